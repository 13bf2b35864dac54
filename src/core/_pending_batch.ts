/**
 * One batch of a `perRequestBatch` function: the loads collected in one scope before dispatch,
 * and the one place where the batch function is called and its answer handed out per key.
 *
 * A batch belongs to a scope (it hangs on the function's entry table in that scope, as
 * `table.pending`), never to the function: two requests never share one, so a batch function
 * only ever sees the keys of the request it runs for.
 */
import { describe } from "../_errors.ts";
import type { ValidBatchOptions } from "./_batch_options.ts";
import { type Entry, type EntryTable, PENDING, READY } from "./_entry_table.ts";
import { keepsRejection } from "./_rejection_policy.ts";
import { Frame, storage } from "./_frame.ts";
import type { ScopeState } from "./_scope_state.ts";
import { batchChannel, publishBatch } from "./_channels.ts";
import { dispatchTraced, traceDispatch } from "./_traced_calls.ts";

/** A batch function with its types erased: load keys in, values (or a promise of them) out. */
export type BatchFn = (keys: readonly unknown[]) => unknown;

/** The loads waiting for one call (or, past `maxBatchSize`, several) of the batch function. */
export class PendingBatch {
  /** The scope the loads were made in; `undefined` for the batch of one made outside any. */
  readonly scope: ScopeState | undefined;
  /** The function's table in that scope: it counts the batch, and holds the pending one. */
  readonly table: EntryTable | undefined;
  /**
   * Whether each key's entry is stored in `table` (the `cache` option); if not, repeats find
   * their slot through `entryOf`, and nothing is left once the batch has left.
   */
  readonly keeps: boolean;
  /** What the batch function receives: one load key per cache key, in first-load order. */
  readonly keys: unknown[] = [];
  /** Each slot's cache key: the `keys` array itself when load keys are their own cache keys. */
  readonly cacheKeys: unknown[];
  /** Each key's entry, whose value is the promise its loads share, with that promise's settlers. */
  readonly entries: SlotEntry[] = [];
  /**
   * Set when the table dropped entries while this batch was pending (`invalidate`, `clear`,
   * `invalidateTags`): a key may then be in the batch without being in the table, and a new
   * load of it must join its slot (the batch has not run, so its answer is not stale) instead
   * of sending the key twice.
   */
  dropped = false;
  /** Set when the batch leaves, or fails before it could: a second dispatch does nothing. */
  sent = false;
  /** What a `schedule` option was given to send the batch: the scope's end calls it too. */
  leave: (() => void) | undefined = undefined;
  /**
   * Cache key → slot, made by the first `entryOf`: once `dropped` is set, or on a second load
   * when nothing is kept (a load that misses a kept table never needs it).
   */
  #slots: Map<unknown, number> | undefined;

  constructor(
    scope: ScopeState | undefined,
    table: EntryTable | undefined,
    keyed: boolean,
    keeps: boolean,
  ) {
    this.scope = scope;
    this.table = table;
    this.keeps = keeps;
    this.cacheKeys = keyed ? [] : this.keys;
  }

  /**
   * Adds a key to the batch and its entry to the table; the entry's value is the promise of the
   * key's value. In a table the entry is {@linkcode PENDING} until its slot is settled (loads
   * that find it meanwhile are joins), then READY, or dropped for a rejection (see `reject`);
   * an entry kept nowhere is READY from the start, and no settle touches a table for it.
   */
  add(key: unknown, cacheKey: unknown): Entry {
    const state = this.keeps ? PENDING : READY;
    const entry: SlotEntry = { value: undefined, state, resolve: noop, reject: noop };
    filling = entry;
    entry.value = new Promise(fillSettlers);
    this.#slots?.set(cacheKey, this.keys.length);
    this.keys.push(key);
    if (this.cacheKeys !== this.keys) this.cacheKeys.push(cacheKey);
    this.entries.push(entry);
    if (this.keeps) this.table!.set(cacheKey, entry);
    return entry;
  }

  /** The pending entry of `cacheKey`, if the key is in this batch (see `dropped`, `keeps`). */
  entryOf(cacheKey: unknown): Entry | undefined {
    if (this.#slots === undefined) {
      this.#slots = new Map();
      this.cacheKeys.forEach((key, slot) => this.#slots!.set(key, slot));
    }
    const slot = this.#slots.get(cacheKey);
    return slot === undefined ? undefined : this.entries[slot];
  }
}

/** A key's entry while its batch is pending or in flight: it holds its promise's settlers. */
interface SlotEntry extends Entry {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * The entry that `fillSettlers` gives a new promise's settlers to. A promise executor that closes
 * over nothing, pointed at its entry just before `new Promise` runs it, makes no closure per load.
 */
let filling: SlotEntry;

function fillSettlers(resolve: (value: unknown) => void, reject: (error: unknown) => void) {
  filling.resolve = resolve;
  filling.reject = reject;
}

function noop(): void {}

/** A settled slot's entry stays in the table for the rest of the scope; its settlers need not. */
function forgetSettlers(entry: SlotEntry): void {
  entry.resolve = entry.reject = noop;
}

/**
 * A primed entry: READY with `promise` as its value, of the same shape as a slot's entry, so
 * that the hit path reads one shape of entry whichever way it was stored.
 */
export function primedEntry(promise: Promise<unknown>): Entry {
  const entry: SlotEntry = { value: promise, state: READY, resolve: noop, reject: noop };
  return entry;
}

/**
 * Calls the batch function for every key of `batch`, `maxBatchSize` keys at a time, in order,
 * and settles each key's promise with its value or error.
 *
 * The batch function runs inside a run frame made here and holding the batch's scope, whatever
 * context the scheduler carried, so `currentScope()` and cached functions inside it see the
 * request the keys were loaded for. If that scope has ended before dispatch, the batch still
 * runs (its callers must settle), in a frame that holds no scope: nothing it does is cached,
 * and its values are stored nowhere, since the scope's entries went with it. A key invalidated
 * while its batch is in flight is answered only to the loads made before (eviction checks that
 * the table still holds the batch's own entry); one invalidated while its batch still waits
 * takes later loads back into its slot, since that answer cannot be stale.
 */
export function dispatch(batch: PendingBatch, batchFn: BatchFn, options: ValidBatchOptions): void {
  if (!leaves(batch)) return;
  const { scope, table } = batch;
  const frame = scope === undefined ? undefined : new Frame(scope.ended ? undefined : scope, true);
  const size = options.maxBatchSize;
  for (let from = 0; from < batch.keys.length; from += size) {
    const to = Math.min(from + size, batch.keys.length);
    // A copy: the batch function may sort or splice what it gets, and the slots (whose cache
    // keys may be this very array) must keep the order the loads were made in.
    const keys = batch.keys.slice(from, to);
    if (table !== undefined) {
      table.batches!++;
      // A batch whose scope has ended still ran for that scope's loads: it is published too.
      if (batchChannel.hasSubscribers) publishBatch(scope!.handle, options.name, to - from);
    }
    let result: unknown;
    try {
      result = frame === undefined
        ? batchFn(keys)
        : dispatchTraced()
        ? storage.run(frame, traceDispatch, scope!.handle, options.name, batchFn, keys)
        : storage.run(frame, batchFn, keys);
    } catch (error) {
      failAll(batch, from, to, batchFailed(options.name, to - from, error), options);
      continue;
    }
    if (Array.isArray(result) || result instanceof Map) settle(batch, from, to, result, options);
    else {
      Promise.resolve(result).then(
        (values) => settle(batch, from, to, values, options),
        (error) => failAll(batch, from, to, batchFailed(options.name, to - from, error), options),
      );
    }
  }
}

/**
 * Hands each key of slots `from`…`to` its value, or rejects it alone for an `Error`: the value
 * in its place of an array, or stored under its cache key in a `Map` (SameValueZero, as `Map`
 * compares keys: the key the load was made with, or the one the `key` option made of it; a key
 * the `Map` lacks gets `undefined`).
 */
function settle(
  batch: PendingBatch,
  from: number,
  to: number,
  values: unknown,
  options: ValidBatchOptions,
): void {
  const { name } = options;
  if (values instanceof Map) {
    for (let slot = from; slot < to; slot++) {
      settleSlot(batch, slot, values.get(batch.cacheKeys[slot]), options);
    }
    return;
  }
  if (!Array.isArray(values)) {
    const error = new TypeError(
      `Cannot load ${name}: the batch function must return an array with one value (or Error) per key, or a Map from key to value, or a promise of either, received ${
        describe(values)
      }`,
    );
    return failAll(batch, from, to, error, options);
  }
  if (values.length !== to - from) {
    const error = new TypeError(
      `Cannot load ${name}: the batch function returned ${values.length} values for ${
        to - from
      } keys; return one value (or Error) per key, in the order of the keys`,
    );
    return failAll(batch, from, to, error, options);
  }
  for (let slot = from; slot < to; slot++) settleSlot(batch, slot, values[slot - from], options);
}

function settleSlot(
  batch: PendingBatch,
  slot: number,
  value: unknown,
  options: ValidBatchOptions,
): void {
  if (value instanceof Error) return reject(batch, slot, value, options, true);
  const entry = batch.entries[slot];
  entry.resolve(value);
  forgetSettlers(entry);
  if (entry.state === PENDING) entry.state = READY; // not if dropped meanwhile
}

/**
 * Marks `batch` sent and takes it off its table, so that the next load starts a new one;
 * returns `false` if it was sent already.
 */
function leaves(batch: PendingBatch): boolean {
  if (batch.sent) return false;
  batch.sent = true;
  const { table } = batch;
  if (table !== undefined && table.pending === batch) table.pending = undefined;
  return true;
}

function failAll(
  batch: PendingBatch,
  from: number,
  to: number,
  error: Error,
  options: ValidBatchOptions,
  answered = true,
): void {
  for (let slot = from; slot < to; slot++) reject(batch, slot, error, options, answered);
}

/**
 * Rejects one key, and drops its entry unless `cacheRejections` keeps it. This is what
 * `EntryTable.watch` does for a cached function's promise, done where the batch settles the
 * slot instead of in one more reaction per key: an entry that left the table meanwhile is
 * DROPPED and stays so, and a kept rejection is READY. `options` stands for the function in
 * `keepsRejection`'s report-once set: it is made once per batched function. An error that is
 * no answer of the batch function (`answered` false) is never kept.
 */
function reject(
  batch: PendingBatch,
  slot: number,
  error: Error,
  options: ValidBatchOptions,
  answered: boolean,
): void {
  const entry = batch.entries[slot];
  entry.reject(error);
  forgetSettlers(entry);
  const { table } = batch;
  if (table === undefined || entry.state !== PENDING) return;
  const cacheKey = batch.cacheKeys[slot];
  if (answered && keepsRejection(options.cacheRejections, error, options, options.name)) {
    entry.state = READY;
  } else if (table.get(cacheKey) === entry) table.delete(cacheKey);
}

/**
 * Fails a batch that never left (its `schedule` threw): every load rejects with `error`, and
 * no entry stays, whatever `cacheRejections` says: no answer was ever given for these keys.
 */
export function failUnsent(batch: PendingBatch, error: Error, options: ValidBatchOptions): void {
  if (leaves(batch)) failAll(batch, 0, batch.keys.length, error, options, false);
}

/** The error of every key of a batch whose function threw or rejected. */
function batchFailed(name: string, keys: number, cause: unknown): Error {
  return new Error(
    `Cannot load ${name}: its batch function failed for a batch of ${keys} keys, with the error that is this error's cause`,
    { cause },
  );
}
