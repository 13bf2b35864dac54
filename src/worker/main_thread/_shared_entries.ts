/**
 * The main thread's record of every shared entry of every live scope: the one place that
 * decides, for a (scope, function, key), who computes and who waits. Workers keep copies of
 * what they have seen; this record is the authority.
 *
 * How one entry moves:
 *
 *     (absent) --first caller--> computing --returned a promise--> pending --> settled
 *                                    \__________returned a value___________/
 *
 * - The first thread to ask becomes the *owner* and computes; an error is handed to everyone
 *   who waited and the entry is dropped, so the next call retries (errors are never stored).
 * - A worker asking for a `computing` entry blocks (see `../_protocol.ts`) until the owner
 *   reports; a `pending` one is answered at once with "wait", and the value follows as a message.
 * - The main thread never blocks. A synchronous call there that finds a worker computing the
 *   same entry computes it too and keeps that result to itself: the price of a main thread
 *   that must stay free to answer its workers.
 * - Blocking can deadlock where waiting on a promise would not: worker A, owner of `f(1)`,
 *   blocks on `g(1)` owned by B, and B then asks for `f(1)`. Following "owner of what I wait
 *   for" from the requested entry's owner finds the requester again; that requester is told to
 *   compute unshared instead of waiting. For a true cycle (`f(1)` needs `g(1)` needs `f(1)`)
 *   it then meets its own entry and throws the same `RangeError` as in one thread.
 *
 * An entry belongs to its scope's table for lookups, and to its owner for reports: an owner's
 * report finds the entry through the owner, so a computation that outlives its scope still
 * answers those who waited for it, and a worker that dies releases exactly what it owned.
 */
import { cycleError } from "../../_errors.ts";
import { reviveError, serializeError } from "../_error_transfer.ts";
import type { ScopeState } from "../../core/_scope_state.ts";
import { type LookupAnswer, nameOfEntry, type Outcome, scopedEntryId } from "../_protocol.ts";

/** A thread that shares entries: the main thread ({@linkcode MAIN}) or one worker of a pool. */
export interface Peer {
  /** The entry this thread is blocked on; only a worker ever blocks. */
  waitingFor: SharedEntry | undefined;
  /** What this thread computes now, by {@linkcode scopedEntryId}. */
  readonly owned: Map<string, SharedEntry>;
  /** Answers the lookup this thread is blocked on. */
  answer(answer: LookupAnswer, name: string): void;
  /** Tells a thread that waits without blocking how an entry settled. */
  notify(entry: SharedEntry, outcome: Outcome): void;
}

/** The main thread as a peer: it owns entries, but never blocks and is never notified. */
export const MAIN: Peer = {
  waitingFor: undefined,
  owned: new Map(),
  answer() {},
  notify() {},
};

/** One scope's shared entries. */
export class ScopeEntries {
  readonly scope: string;
  readonly entries: Map<string, SharedEntry> = new Map();
  ended = false;

  constructor(scope: string) {
    this.scope = scope;
  }
}

export class SharedEntry {
  readonly table: ScopeEntries;
  readonly id: string;
  state: "computing" | "pending" | "settled" = "computing";
  owner: Peer | undefined;
  value: unknown;
  /** Whether the function returned a promise: callers then get a promise too. */
  async = false;
  /** Workers blocked until the owner reports. */
  readonly blocked: Peer[] = [];
  /** Workers waiting for a pending entry through a message. */
  readonly subscribers: Set<Peer> = new Set();
  /** The one promise main-thread callers share for an async entry. */
  promise: Promise<unknown> | undefined;
  /** Settles {@linkcode promise} when a worker owns the entry. */
  settleMain: ((outcome: Outcome) => void) | undefined;

  constructor(table: ScopeEntries, id: string, owner: Peer) {
    this.table = table;
    this.id = id;
    this.owner = owner;
    owner.owned.set(scopedEntryId(table.scope, id), this);
    table.entries.set(id, this);
  }
}

const tables = new WeakMap<ScopeState, ScopeEntries>();

/** The shared entries of a live scope, made on first use and dropped when the scope ends. */
export function entriesOf(state: ScopeState): ScopeEntries {
  let table = tables.get(state);
  if (table === undefined) {
    const made = table = new ScopeEntries(state.id);
    tables.set(state, made);
    state.onEnd(() => {
      made.ended = true;
      made.entries.clear();
      tables.delete(state);
    });
  }
  return table;
}

const COMPUTE_SHARED: LookupAnswer = Object.freeze({ kind: "compute", share: true });
const COMPUTE_UNSHARED: LookupAnswer = Object.freeze({ kind: "compute", share: false });
const WAIT: LookupAnswer = Object.freeze({ kind: "wait" });

/** Answers `peer`'s lookup of `id` in a scope (`undefined` once it has ended), now or later. */
export function answerLookup(state: ScopeState | undefined, id: string, peer: Peer): void {
  const answer = lookup(state === undefined ? undefined : entriesOf(state), id, peer);
  if (answer !== undefined) peer.answer(answer, nameOfEntry(id));
}

/**
 * Answers a worker's lookup, or returns `undefined` after recording that `peer` blocks until
 * the entry's owner reports (the answer then goes through `peer.answer`).
 */
export function lookup(
  table: ScopeEntries | undefined,
  id: string,
  peer: Peer,
): LookupAnswer | undefined {
  if (table === undefined || table.ended) return COMPUTE_UNSHARED;
  const entry = table.entries.get(id);
  if (entry === undefined) {
    new SharedEntry(table, id, peer);
    return COMPUTE_SHARED;
  }
  if (entry.state === "settled") return { kind: "value", value: entry.value, async: entry.async };
  if (entry.state === "pending") {
    entry.subscribers.add(peer);
    return WAIT;
  }
  // Computing: block, unless the chain of owners leads back here (see the file comment). The
  // hop limit only guards against a bug; a real chain is at most as long as the pool is big.
  for (let owner = entry.owner, hops = 0; owner !== undefined; owner = owner.waitingFor?.owner) {
    if (owner === peer || ++hops > 1_000) return COMPUTE_UNSHARED;
  }
  peer.waitingFor = entry;
  entry.blocked.push(peer);
  return undefined;
}

/** A main-thread call of a shared function inside a live scope. */
export function callInMain(
  state: ScopeState,
  id: string,
  compute: () => unknown,
): unknown {
  const table = entriesOf(state);
  const entry = table.entries.get(id);
  if (entry === undefined) return computeInMain(new SharedEntry(table, id, MAIN), compute);
  if (entry.state === "settled") {
    return entry.async ? entry.promise ??= Promise.resolve(entry.value) : entry.value;
  }
  if (entry.state === "pending") return entry.promise ??= waitInMain(entry);
  if (entry.owner === MAIN) throw cycleError(nameOfEntry(id));
  // A worker computes it synchronously, and this thread must not block (file comment).
  return compute();
}

function computeInMain(entry: SharedEntry, compute: () => unknown): unknown {
  let value: unknown;
  try {
    value = compute();
  } catch (error) {
    settle(entry, { ok: false, error: serializeError(error) });
    throw error;
  }
  if (!(value instanceof Promise)) {
    settle(entry, { ok: true, value });
    return value;
  }
  markPending(entry);
  entry.promise = value;
  value.then(
    (settled) => settle(entry, { ok: true, value: settled }),
    (error) => settle(entry, { ok: false, error: serializeError(error) }),
  );
  return value;
}

function waitInMain(entry: SharedEntry): Promise<unknown> {
  return new Promise((resolve, reject) => {
    entry.settleMain = (outcome) => {
      if (outcome.ok) resolve(outcome.value);
      else reject(reviveError(outcome.error, `shared function ${nameOfEntry(entry.id)}`));
    };
  });
}

/** An owner's report that its computation returned a promise. */
export function reportPending(peer: Peer, scope: string, id: string): void {
  const entry = peer.owned.get(scopedEntryId(scope, id));
  if (entry !== undefined) markPending(entry);
}

/** An owner's report of how its computation ended. */
export function reportSettled(peer: Peer, scope: string, id: string, outcome: Outcome): void {
  const entry = peer.owned.get(scopedEntryId(scope, id));
  if (entry !== undefined) settle(entry, outcome);
}

function markPending(entry: SharedEntry): void {
  entry.state = "pending";
  entry.async = true;
  const name = nameOfEntry(entry.id);
  for (const peer of entry.blocked) {
    peer.waitingFor = undefined;
    entry.subscribers.add(peer);
    peer.answer(WAIT, name);
  }
  entry.blocked.length = 0;
}

function settle(entry: SharedEntry, outcome: Outcome): void {
  entry.owner?.owned.delete(scopedEntryId(entry.table.scope, entry.id));
  entry.owner = undefined;
  if (outcome.ok) {
    entry.state = "settled";
    entry.value = outcome.value;
  } else if (entry.table.entries.get(entry.id) === entry) {
    entry.table.entries.delete(entry.id);
  }
  const name = nameOfEntry(entry.id);
  const answer: LookupAnswer = outcome.ok
    ? { kind: "value", value: outcome.value, async: entry.async }
    : { kind: "error", error: outcome.error, async: entry.async };
  for (const peer of entry.blocked) {
    peer.waitingFor = undefined;
    peer.answer(answer, name);
  }
  entry.blocked.length = 0;
  for (const peer of entry.subscribers) peer.notify(entry, outcome);
  entry.subscribers.clear();
  entry.settleMain?.(outcome);
  entry.settleMain = undefined;
}

/**
 * A worker is gone (crashed, aborted or terminated). What it was blocked on forgets it; what it
 * owned is dropped, and each worker that was blocked on such an entry asks again as if for the
 * first time (the first of them becomes the new owner). Those waiting for a promise it owned
 * get `error`: their promise cannot be recomputed for them.
 */
export function releasePeer(peer: Peer, error: Error): void {
  const waited = peer.waitingFor;
  if (waited !== undefined) {
    waited.blocked.splice(waited.blocked.indexOf(peer), 1);
    peer.waitingFor = undefined;
  }
  const owned = [...peer.owned.values()];
  peer.owned.clear();
  for (const entry of owned) {
    entry.owner = undefined;
    if (entry.table.entries.get(entry.id) === entry) entry.table.entries.delete(entry.id);
    const name = nameOfEntry(entry.id);
    const blocked = entry.blocked.splice(0);
    for (const waiter of blocked) {
      waiter.waitingFor = undefined;
      const answer = lookup(entry.table, entry.id, waiter);
      if (answer !== undefined) waiter.answer(answer, name);
    }
    const outcome: Outcome = { ok: false, error: serializeError(error) };
    for (const subscriber of entry.subscribers) subscriber.notify(entry, outcome);
    entry.subscribers.clear();
    entry.settleMain?.(outcome);
    entry.settleMain = undefined;
  }
}
