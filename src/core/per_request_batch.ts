import { liveScope, storage } from "./_frame.ts";
import type { ScopeState } from "./_scope_state.ts";
import { describe } from "../_errors.ts";
import { getValidBatchOptions, type PerRequestBatchOptions } from "./_batch_options.ts";
import { type Entry, type EntryTable, PENDING, READY } from "./_entry_table.ts";
import { nextFunctionIndex } from "./_function_index.ts";
import { type BatchFn, dispatch, PendingBatch, primedEntry } from "./_pending_batch.ts";
import { scheduleBatch } from "./_batch_schedule.ts";
import { callOutsideScope } from "./_outside_scope.ts";
import { tagsOfCall } from "./_tag_index.ts";
import { callChannel, publishCall } from "./_channels.ts";

import type { BatchedFunction, BatchFunction } from "./_batched_function.ts";

export type { BatchedFunction, BatchFunction, PerRequestBatchOptions };

/**
 * Wraps `batchFn` so that the loads one request makes in the same tick become one call of it:
 * DataLoader's batching, with no loader to create per request or pass around, since the batch
 * and the cache belong to the current scope.
 *
 * Inside a scope, the loads made before the batch is dispatched (once the promise jobs queued
 * by the current tick have run, or when the `schedule` option says) are collected per scope: a
 * key already cached or already in the pending batch is not sent again, and two requests never
 * share a batch or an entry. `batchFn` receives the distinct keys in the order of their first
 * load (with a `key` option: the first load key seen for each cache key) and runs in the
 * request's context, so `currentScope()` and cached functions inside it see that request. It
 * answers with an array (one value per key, in order) or with a `Map` from key to value, read
 * with SameValueZero by the load key or the key the `key` option made (a key the `Map` lacks
 * gets `undefined`: this overload's values are typed `V | undefined`). With `cache: false`
 * the loads of one batch are still de-duplicated, but nothing stays once it has left.
 *
 * Errors: an `Error` as a key's value rejects that key alone. An answer that is neither an
 * array nor a `Map`, or an array of the wrong length, rejects every key of the batch with a
 * `TypeError` naming the function; a throw or rejection of `batchFn` (or of `schedule`) rejects
 * them with an `Error` whose `cause` is the original. A rejected key is dropped so the next
 * load retries it, unless `cacheRejections` (`true`, or a predicate of the error) keeps it.
 *
 * Counting: a load answered by a settled entry is a hit, one that shares a promise still
 * pending (its key waiting in the batch, or the batch in flight) is a join, and a key sent to
 * the batch function is a miss, in `scope.stats` and on the `reqcache:call` channel; each call
 * of the batch function is published on `reqcache:batch` with its size. `tags` lets
 * `invalidateTags` drop entries of batched and cached functions together, even pending ones.
 *
 * Ending the scope: a batch still pending (its tick not over, or its `schedule` not called
 * back) runs anyway, outside any scope, and a batch in flight settles, so every load settles;
 * neither stores anything. Outside any scope a load is a batch of one, called at once (with
 * no `schedule`), and nothing is cached; `outsideScope` can make it warn or throw instead.
 *
 * @typeParam K The load key's type.
 * @typeParam V The value's type.
 * @param batchFn Loads the values of distinct keys, as a `Map` from key to value.
 * @param options The largest batch, when it leaves, whether to cache, how to key, tag and name
 * entries, which rejections to keep, and what a load outside any scope does.
 * @returns The batched function, with `many`, `invalidate`, `clear` and `prime`.
 * @throws {TypeError} If `batchFn` is not a function or an option has the wrong type, name or
 * value, or `cache: false` comes with `tags` or `cacheRejections`.
 * @throws {RangeError} If `maxBatchSize` is not a positive integer or `Infinity`.
 *
 * @example Rows in any order, answered as a Map
 * ```ts
 * import { perRequestBatch, runInCacheScope } from "@reqcache/core";
 * import assert from "node:assert/strict";
 *
 * const rows = [{ id: 2, name: "Bob" }, { id: 1, name: "Ada" }]; // SELECT … WHERE id IN (…)
 * const getUser = perRequestBatch(async (ids: readonly number[]) =>
 *   new Map(rows.filter((row) => ids.includes(row.id)).map((row) => [row.id, row]))
 * );
 *
 * await runInCacheScope({ url: "/" }, async () => {
 *   const [ada, nobody] = await Promise.all([getUser(1), getUser(3)]);
 *   assert.equal(ada?.name, "Ada");
 *   assert.equal(nobody, undefined); // no row for 3
 * });
 * ```
 */
export function perRequestBatch<K, V>(
  batchFn: (
    keys: readonly K[],
  ) => ReadonlyMap<unknown, V | Error> | PromiseLike<ReadonlyMap<unknown, V | Error>>,
  options?: PerRequestBatchOptions<K>,
): BatchedFunction<K, V | undefined>;
/**
 * Wraps `batchFn` so that the loads one request makes in the same tick become one call of it,
 * per request: the overload for a batch function that answers with an array, one value per
 * key in the order of the keys (an `Error` rejects that key alone). The overload above says
 * the rest.
 *
 * @typeParam K The load key's type.
 * @typeParam V The value's type.
 * @param batchFn Loads the values of distinct keys, as an array in the order of the keys (or
 * a `Map`, see the overload above).
 * @param options The largest batch, when it leaves, whether to cache, how to key, tag and name
 * entries, which rejections to keep, and what a load outside any scope does.
 * @returns The batched function, with `many`, `invalidate`, `clear` and `prime`.
 * @throws {TypeError} If `batchFn` is not a function or an option has the wrong type, name or
 * value, or `cache: false` comes with `tags` or `cacheRejections`.
 * @throws {RangeError} If `maxBatchSize` is not a positive integer or `Infinity`.
 *
 * @example One query for the users of a request
 * ```ts
 * import { perRequestBatch, runInCacheScope } from "@reqcache/core";
 * import assert from "node:assert/strict";
 *
 * const queries: number[][] = [];
 * const getUser = perRequestBatch(async (ids: readonly number[]) => {
 *   queries.push([...ids]);
 *   return ids.map((id) => ({ id }));
 * });
 *
 * await runInCacheScope({ url: "/" }, async () => {
 *   const [a, b, c] = await Promise.all([getUser(1), getUser(2), getUser(1)]);
 *   assert.equal(a, c); // the repeat is served from the cache
 *   assert.equal(b.id, 2);
 * });
 * assert.deepEqual(queries, [[1, 2]]);
 * ```
 *
 * @example Per-key errors with `many`
 * ```ts
 * import { perRequestBatch, runInCacheScope } from "@reqcache/core";
 * import assert from "node:assert/strict";
 *
 * const rows = new Map([[1, "Ada"], [2, "Bob"]]);
 * const getName = perRequestBatch((ids: readonly number[]) =>
 *   ids.map((id) => rows.get(id) ?? new RangeError(`No user ${id}`))
 * );
 *
 * await runInCacheScope({ url: "/" }, async () => {
 *   const [ada, missing] = await getName.many([1, 3]);
 *   assert.equal(ada, "Ada");
 *   assert.ok(missing instanceof RangeError);
 * });
 * ```
 */
export function perRequestBatch<K, V>(
  batchFn: BatchFunction<K, V>,
  options?: PerRequestBatchOptions<K>,
): BatchedFunction<K, V>;
export function perRequestBatch<K, V>(
  batchFn: BatchFunction<K, V>,
  options?: PerRequestBatchOptions<K>,
): BatchedFunction<K, V> {
  if (typeof batchFn !== "function") {
    throw new TypeError(
      `Cannot create a per-request batch: batchFn must be a function, received ${
        describe(batchFn)
      }`,
    );
  }
  const valid = getValidBatchOptions(options as PerRequestBatchOptions | undefined, batchFn);
  const { key: keyOf, tags: tagsOf, outsideScope, name, cache: keeps } = valid;
  // A custom schedule may hold a batch past the tick, so a full one leaves at once.
  const fullAt = valid.schedule === undefined ? Infinity : valid.maxBatchSize;
  const call = batchFn as BatchFn;
  const index = nextFunctionIndex();

  // The hot path: a key that the scope holds (cached, or pending in its batch) costs one store
  // read, one array index and one Map lookup, and allocates nothing. A settled entry is a hit;
  // one whose promise is still pending (its batch waiting or in flight) is a join (`join`).
  function load(key: K): Promise<V> {
    const scope = storage.getStore()?.current;
    if (scope === undefined) return loadAlone(key);
    let cacheKey: unknown = key;
    if (keyOf !== undefined) {
      try {
        cacheKey = keyOf(key);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    let table = scope.tables[index];
    if (table !== undefined) {
      const entry = table.get(cacheKey);
      if (entry !== undefined) {
        if (entry.state !== READY) return join(scope, table, entry);
        table.hits++; // the scope's total is summed from its tables (see ScopeState.hits)
        if (callChannel.hasSubscribers) publishCall(scope.handle, name, "hit", entry.value);
        return entry.value as Promise<V>;
      }
    } else {
      // An ended scope has no tables (so no hits either), and is given none.
      if (scope.ended) return loadAlone(key);
      table = scope.table(index, name, true);
    }
    return enqueue(scope, table, key, cacheKey);
  }

  /** A join: the entry's promise is still pending, and the load shares it. */
  function join(scope: ScopeState, table: EntryTable, entry: Entry): Promise<V> {
    table.joins++;
    scope.joins++;
    if (callChannel.hasSubscribers) publishCall(scope.handle, name, "join", entry.value);
    return entry.value as Promise<V>;
  }

  /** A miss: the key joins the scope's pending batch, which is made and scheduled if none. */
  function enqueue(scope: ScopeState, table: EntryTable, key: K, cacheKey: unknown): Promise<V> {
    let tags: readonly string[] | undefined; // first: bad tags leave nothing stored
    try {
      if (tagsOf !== undefined) tags = tagsOfCall(tagsOf, [key], name);
    } catch (error) {
      return Promise.reject(error);
    }
    let batch = table.pending as PendingBatch | undefined;
    let made = false;
    if (batch === undefined) {
      table.pending = batch = new PendingBatch(scope, table, keyOf !== undefined, keeps);
      made = true;
    } else if (batch.dropped || !keeps) {
      const entry = batch.entryOf(cacheKey);
      if (entry !== undefined) {
        // Kept nowhere (`cache: false`), or dropped from the table while its batch waits: the
        // batch's answer will not be stale, so the load joins the slot; a dropped entry comes
        // back, pending again and tagged anew.
        if (keeps) {
          entry.state = PENDING;
          table.set(cacheKey, entry);
          if (tags !== undefined) table.tag(cacheKey, tags);
        }
        return join(scope, table, entry);
      }
    }
    const entry = batch.add(key, cacheKey);
    if (tags !== undefined) table.tag(cacheKey, tags); // now: invalidateTags reaches it pending
    table.misses++;
    scope.misses++;
    if (callChannel.hasSubscribers) publishCall(scope.handle, name, "miss", entry.value);
    if (made) scheduleBatch(batch, call, valid); // with its first key: a schedule may send it
    if (batch.keys.length >= fullAt) dispatch(batch, call, valid);
    return entry.value as Promise<V>;
  }

  /** No open scope: warns or throws as `outsideScope` says, or runs a batch of one, uncached. */
  function loadAlone(key: K): Promise<V> {
    callOutsideScope(outsideScope, load, name);
    const batch = new PendingBatch(undefined, undefined, false, false);
    const entry = batch.add(key, key);
    dispatch(batch, call, valid);
    return entry.value as Promise<V>;
  }

  function many(keys: readonly K[]): Promise<(V | Error)[]> {
    if (!Array.isArray(keys)) {
      throw new TypeError(
        `Cannot load many keys of ${name}: keys must be an array, received ${describe(keys)}`,
      );
    }
    const loads: Promise<V | Error>[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) loads[i] = load(keys[i]).then(undefined, errorOf);
    return Promise.all(loads);
  }

  function invalidate(key: K): boolean {
    const table = liveScope()?.tables[index];
    return table !== undefined && table.delete(keyOf === undefined ? key : keyOf(key));
  }

  function clear(): number {
    return liveScope()?.tables[index]?.clear() ?? 0;
  }

  function prime(key: K, value: V | Error): boolean {
    const scope = liveScope();
    if (scope === undefined || !keeps) return false;
    const cacheKey = keyOf === undefined ? key : keyOf(key);
    const tags = tagsOf === undefined ? undefined : tagsOfCall(tagsOf, [key], name);
    const table = scope.table(index, name, true);
    if (table.get(cacheKey) !== undefined) return false;
    const promise = value instanceof Error ? Promise.reject(value) : Promise.resolve(value);
    // A primed error is there for a later load to find; until then it is nobody's rejection.
    promise.catch(() => {});
    table.set(cacheKey, primedEntry(promise));
    if (tags !== undefined) table.tag(cacheKey, tags);
    return true;
  }

  Object.defineProperties(load, {
    name: { value: name },
    many: { value: many },
    invalidate: { value: invalidate },
    clear: { value: clear },
    prime: { value: prime },
  });
  return load as BatchedFunction<K, V>;
}

/** What `many` holds for a failed key: its rejection, as DataLoader's `loadMany` does. */
function errorOf(error: unknown): Error {
  return error as Error;
}
