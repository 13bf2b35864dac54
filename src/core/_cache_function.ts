/**
 * The one cached function: what `perRequestCache` returns, and what the worker entry's shared
 * `perRequestCache` returns with a {@linkcode MissStrategy} that answers its misses across
 * threads. Options, keys, tags, the rejection policy, joins, stats, channels and the hit path
 * are written here once, for both.
 */
import { liveScope, storage } from "./_frame.ts";
import type { ScopeState } from "./_scope_state.ts";
import { findKey, internKey, listOf, NO_ARGUMENTS } from "./_call_key.ts";
import {
  COMPUTING,
  DROPPED,
  type Entry,
  type EntryTable,
  FAILED,
  PENDING,
  READY,
} from "./_entry_table.ts";
import { cycleError, describe } from "../_errors.ts";
import type { ValidOptions } from "./_cache_options.ts";
import { type Controls, controlsOf } from "./_cached_function.ts";
import { callOutsideScope } from "./_outside_scope.ts";
import { keepsRejection } from "./_rejection_policy.ts";
import { tagsOfCall } from "./_tag_index.ts";
import { callChannel, publishCall } from "./_channels.ts";
import { computeTraced, traceCompute } from "./_traced_calls.ts";
import type { Miss, MissStrategy, Share } from "./_miss_strategy.ts";

/**
 * Makes the cached function of `fn` with checked options, whose entries are at `index` in every
 * scope's tables; `strategy` answers its misses (none: they are computed here).
 */
export function cacheFunction(
  fn: (...args: unknown[]) => unknown,
  options: ValidOptions,
  index: number,
  strategy?: MissStrategy,
): unknown {
  const { maxEntries, cacheRejections, tags: tagsOf, outsideScope, name } = options;
  // A strategy keys calls by value, and a receiver is never part of its key.
  const keyOf = strategy === undefined ? options.key : strategy.hitKey;
  const byValue = strategy !== undefined;
  const inner = controlsOf.get(fn);
  const keepsRejectionOf = (error: unknown) => keepsRejection(cacheRejections, error, cached, name);

  // The hot path. A call with at most one key part and no receiver (one argument or none, or a
  // `key` option) is found with one store read, one array index and one key lookup in the
  // table, and allocates nothing: `arguments` is only read, and handed on only through `apply`,
  // which V8 and JSC forward without building an array. A rest parameter that reaches a call
  // the engine does not inline is built on every call, so the hit path has none (the hit
  // benchmarks guard this rule), and V8 inlines `cached` into its callers only below a bytecode
  // size, so what is rare stays out of line.
  function cached(this: unknown): unknown {
    const args = arguments as unknown as unknown[]; // typed for `apply`; still `arguments`
    const scope = storage.getStore()?.current;
    if (scope === undefined) return uncached.apply(this, args as []);
    let key: unknown;
    let parts: unknown[] | undefined; // for every other call, whose key is interned in a trie
    if (keyOf !== undefined && (this === undefined || byValue)) key = keyOf.apply(undefined, args);
    else if (this === undefined && args.length <= 1) {
      key = args.length === 1 ? args[0] : NO_ARGUMENTS;
    } else if (keyOf !== undefined) parts = [keyOf.apply(undefined, args)];
    else {
      parts = new Array(args.length);
      for (let i = 0; i < args.length; i++) parts[i] = args[i];
    }
    const table = scope.tables[index];
    if (table !== undefined) {
      if (parts !== undefined) key = findKey(table, this, parts);
      // Where a call is classified, one branch per outcome: a hit (READY, a settled entry), a
      // join (PENDING, a promise still in flight), or a miss (`callAndStore`, which also tells
      // a cycle or another thread's computation from a COMPUTING entry).
      const entry = table.get(key);
      if (entry !== undefined) {
        if (entry.state === READY) {
          table.hits++; // the scope's total is summed from its tables (see ScopeState.hits)
          if (maxEntries === Infinity && !callChannel.hasSubscribers) return entry.value;
          return answer(scope, table, key, entry, "hit");
        }
        if (entry.state === PENDING) return join(scope, table, key, entry);
      }
    }
    return callAndStore(scope, this, listOf.apply(undefined, args), key, parts);
  }

  /** A call with no open scope: warns or throws as `outsideScope` says, or runs uncached. */
  function uncached(this: unknown): unknown {
    callOutsideScope(outsideScope, cached, name);
    return fn.apply(this, arguments as unknown as unknown[]);
  }

  /**
   * A join: a PENDING entry's promise has not settled, and the call shares it. Out of line, as
   * V8 inlines `cached` into its callers only below a bytecode size.
   */
  function join(scope: ScopeState, table: EntryTable, key: unknown, entry: Entry): unknown {
    table.joins++;
    scope.joins++;
    return answer(scope, table, key, entry, "join");
  }

  /** A hit or join with more to do: a bounded table's reorder, a subscriber's message. */
  function answer(
    scope: ScopeState,
    table: EntryTable,
    key: unknown,
    entry: Entry,
    outcome: "hit" | "join",
  ): unknown {
    if (maxEntries !== Infinity) table.touch(key, entry);
    if (callChannel.hasSubscribers) publishCall(scope.handle, name, outcome, entry.value);
    return entry.value;
  }

  /**
   * A miss: `key` is the call's key, unless `parts` is given to intern the key from (or a
   * strategy makes it). Or the scope has ended: it has no tables then (so no hits either), and
   * stores nothing.
   */
  function callAndStore(
    scope: ScopeState,
    receiver: unknown,
    args: unknown[],
    key: unknown,
    parts: unknown[] | undefined,
  ): unknown {
    if (scope.ended) return uncached.apply(receiver, args as []);
    // A cycle is told before any user code runs for the call again (its `tags`, a strategy's
    // key): `key` is what the hit path found, so a COMPUTING entry of this thread is under it.
    const computing = scope.tables[index]?.get(key);
    if (computing?.state === COMPUTING && computing.value === undefined) throw cycleError(name);
    const tags = tagsOfCall(tagsOf, args, name); // before the table: bad tags leave nothing stored
    const table = scope.table(index, name);
    if (parts !== undefined) key = internKey(table, receiver, parts);
    else if (strategy !== undefined) key = strategy.key(table, args, true);
    const existing = table.get(key);
    if (existing !== undefined) {
      // COMPUTING: with no value, this thread is computing it, and the call is a cycle (one
      // that `tags` or a key option started, since the check above); with one (the record of
      // another thread's computation), this thread must not wait for it (the main thread never
      // blocks), and computes it too, keeping the result to itself.
      if (existing.state === COMPUTING) {
        if (existing.value === undefined) throw cycleError(name);
        return compute(scope, table, key, tags, receiver, args, false);
      }
      table.delete(key); // FAILED: its call threw and the cleanup was cut short (see compute)
    }
    if (strategy === undefined) return compute(scope, table, key, tags, receiver, args, true);
    const miss: Miss = {
      scope,
      args,
      tags,
      compute: (share) => compute(scope, table, key, tags, receiver, args, true, share),
      store: (value, outcome) => storeAnswer(scope, table, key, tags, value, outcome),
      keeps: keepsRejectionOf,
    };
    return strategy.miss(miss);
  }

  /**
   * Runs the function for a miss: the one place it is called for one, on every thread. `store`
   * keeps the result in `table` under `key`; `share` is told how the call ended.
   */
  function compute(
    scope: ScopeState,
    table: EntryTable,
    key: unknown,
    tags: readonly string[] | undefined,
    receiver: unknown,
    args: unknown[],
    store: boolean,
    share?: Share,
  ): unknown {
    let entry: Entry | undefined;
    if (store) {
      entry = { value: undefined, state: COMPUTING };
      table.set(key, entry);
      if (tags !== undefined) table.tag(key, tags); // now: invalidateTags reaches it in flight
    }
    table.misses++;
    scope.misses++;
    let value: unknown;
    try {
      value = computeTraced()
        ? traceCompute(scope.handle, name, fn, receiver, args)
        : fn.apply(receiver, args);
      share?.returned(value);
    } catch (error) {
      // Marked first, by a plain store that cannot throw: when `error` is a stack overflow, the
      // cleanup below can overflow too (V8 sometimes leaves it undone), and a FAILED entry is
      // then run again instead of answering `undefined`.
      if (entry !== undefined) {
        entry.state = FAILED;
        if (table.get(key) === entry) table.delete(key);
      }
      share?.threw(error);
      throw error;
    }
    if (callChannel.hasSubscribers) publishCall(scope.handle, name, "miss", value);
    if (entry === undefined) return value;
    entry.value = value;
    if (entry.state === DROPPED) return value; // invalidated while it ran: nothing to store
    entry.state = READY;
    settle(table, key, entry);
    return value;
  }

  /** Stores what another thread answered for a miss, counted as a hit or a join of it. */
  function storeAnswer(
    scope: ScopeState,
    table: EntryTable,
    key: unknown,
    tags: readonly string[] | undefined,
    value: unknown,
    outcome: "hit" | "join",
  ): unknown {
    const entry = storeReady(table, key, value, tags);
    if (outcome === "join") return join(scope, table, key, entry);
    table.hits++;
    return answer(scope, table, key, entry, "hit");
  }

  /** Stores a value that is ready (primed, or another thread's answer), tagged and settled. */
  function storeReady(table: EntryTable, key: unknown, value: unknown, tags?: readonly string[]) {
    const entry: Entry = { value, state: READY };
    table.set(key, entry);
    if (tags !== undefined) table.tag(key, tags);
    settle(table, key, entry);
    return entry;
  }

  /** A ready entry is in the table: bound the table, and follow a promise until it settles. */
  function settle(table: EntryTable, key: unknown, entry: Entry): void {
    table.evictBeyond(maxEntries);
    table.watch(key, entry, keepsRejectionOf);
  }

  /** The key of a call in `table`, made if `intern`, else found (or `NOT_STORED`). */
  function keyIn(table: EntryTable, receiver: unknown, args: unknown[], intern: boolean): unknown {
    if (strategy !== undefined) return strategy.key(table, args, intern);
    const parts = options.key === undefined ? args : [options.key.apply(undefined, args)];
    return intern ? internKey(table, receiver, parts) : findKey(table, receiver, parts);
  }

  const controls: Controls = {
    invalidate(receiver, args) {
      inner?.invalidate(receiver, args);
      const scope = liveScope();
      if (scope === undefined) return false;
      const table = scope.tables[index];
      const dropped = table !== undefined && table.delete(keyIn(table, receiver, args, false));
      strategy?.dropped(scope, args);
      return dropped;
    },
    clear() {
      inner?.clear();
      const scope = liveScope();
      if (scope === undefined) return 0;
      const dropped = scope.tables[index]?.clear() ?? 0;
      strategy?.dropped(scope, undefined);
      return dropped;
    },
  };
  controlsOf.set(cached, controls);

  Object.defineProperties(cached, {
    name: { value: name },
    invalidate: {
      value: function invalidate(this: unknown, ...args: unknown[]): boolean {
        return controls.invalidate(this === cached ? undefined : this, args);
      },
    },
    clear: { value: (): number => controls.clear() },
    prime: {
      value: function prime(this: unknown, args: unknown[], value: unknown): boolean {
        if (!Array.isArray(args)) {
          throw new TypeError(
            `Cannot prime ${name}: args must be the array of arguments, received ${describe(args)}`,
          );
        }
        const scope = liveScope();
        if (scope === undefined) return false;
        const receiver = this === cached ? undefined : this;
        const tags = tagsOfCall(tagsOf, args, name); // a primed entry is tagged like a computed one
        const table = scope.table(index, name);
        const key = keyIn(table, receiver, args, true);
        const existing = table.get(key);
        if (existing !== undefined && existing.state !== FAILED) return false;
        strategy?.primed(scope, args, value, tags);
        storeReady(table, key, value, tags);
        return true;
      },
    },
  });
  return cached;
}
