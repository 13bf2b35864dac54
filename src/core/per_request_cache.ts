import { liveScope, storage } from "./_frame.ts";
import { findKey, internKey, listOf, NO_ARGUMENTS } from "./_call_key.ts";
import { COMPUTING, DROPPED, type Entry, type EntryTable, FAILED, READY } from "./_entry_table.ts";
import { cycleError, describe } from "../_errors.ts";
import { getValidOptions, type PerRequestCacheOptions } from "./_cache_options.ts";
import {
  type CachedFunction,
  type Controls,
  controlsOf,
  isDecoratorContext,
} from "./_cached_function.ts";
import { callOutsideScope } from "./_outside_scope.ts";
import { keepsRejection } from "./_rejection_policy.ts";
import { tagsOfCall } from "./_tag_index.ts";
import { nextFunctionIndex } from "./_function_index.ts";
import type { ScopeState } from "./_scope_state.ts";
import { callChannel, publishCall } from "./_channels.ts";
import { computeTraced, traceCompute } from "./_traced_calls.ts";

export type { CachedFunction, PerRequestCacheOptions };

/**
 * Wraps `fn` so that it runs once per request for equal arguments: inside a scope, the first
 * call stores its result and later calls with the same arguments get that result back; outside
 * any scope it runs on every call and stores nothing.
 *
 * Keys: arguments compare position by position with SameValueZero, objects by identity, and
 * their number counts (`f(1)` is not `f(1, undefined)`); a receiver (`this`) is part of the
 * key. Nothing is serialized unless a `key` option does it.
 *
 * Promises: concurrent calls share the one in-flight promise (they count as joins, not hits);
 * a rejected promise is dropped so the next call retries (unless `cacheRejections` keeps it);
 * a synchronous throw is never stored. `tags` lets `invalidateTags` drop entries of many
 * functions at once, and `outsideScope` decides what a call with no open scope does.
 *
 * It is also a standard method decorator: `@perRequestCache` caches a method per request,
 * per instance and per arguments.
 *
 * @typeParam F The function's type; the result has the same call signature.
 * @param fn The function to cache.
 * @param options How to key, bound and name its entries.
 * @returns The cached function, with `invalidate`, `clear` and `prime`.
 * @throws {TypeError} If `fn` is not a function or an option has the wrong type, name or value.
 * @throws {RangeError} If `maxEntries` is not a positive integer or `Infinity`.
 *
 * @example One query per request
 * ```ts
 * import { perRequestCache, runInCacheScope } from "@reqcache/core";
 * import assert from "node:assert/strict";
 *
 * let queries = 0;
 * const getUser = perRequestCache(async (id: string) => ({ id, query: ++queries }));
 *
 * await runInCacheScope({ url: "/a" }, async () => {
 *   const [a, b] = await Promise.all([getUser("42"), getUser("42")]);
 *   assert.equal(a, b);
 * });
 * await runInCacheScope({ url: "/b" }, () => getUser("42"));
 * assert.equal(queries, 2); // once per request
 * ```
 *
 * @example A cached method
 * ```ts
 * import { perRequestCache, runInCacheScope } from "@reqcache/core";
 * import assert from "node:assert/strict";
 *
 * class Users {
 *   queries = 0;
 *   @perRequestCache
 *   find(id: string): { id: string } {
 *     this.queries++;
 *     return { id };
 *   }
 * }
 *
 * const users = new Users();
 * runInCacheScope({ url: "/" }, () => {
 *   assert.equal(users.find("1"), users.find("1"));
 * });
 * assert.equal(users.queries, 1);
 * ```
 */
export function perRequestCache<F extends (...args: never[]) => unknown>(
  fn: F,
  options?: PerRequestCacheOptions<Parameters<F>>,
): CachedFunction<F>;
/**
 * The decorator form: `@perRequestCache` on a class method.
 *
 * @typeParam This The class.
 * @typeParam Args The method's parameters.
 * @typeParam R What the method returns.
 * @param method The decorated method.
 * @param context The decorator context that the language passes.
 * @returns The cached method.
 */
export function perRequestCache<This, Args extends unknown[], R>(
  method: (this: This, ...args: Args) => R,
  context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => R>,
): (this: This, ...args: Args) => R;
export function perRequestCache(
  fn: (...args: unknown[]) => unknown,
  options?: PerRequestCacheOptions | ClassMethodDecoratorContext,
): unknown {
  if (isDecoratorContext(options)) {
    if (options.kind !== "method") {
      throw new TypeError(
        `Cannot decorate ${
          String(options.name)
        } with @perRequestCache: it is a ${options.kind}, and only methods can be cached`,
      );
    }
    return cacheFunction(fn, { name: String(options.name) });
  }
  return cacheFunction(fn, options);
}

function cacheFunction(
  fn: (...args: unknown[]) => unknown,
  options: PerRequestCacheOptions | undefined,
): unknown {
  if (typeof fn !== "function") {
    throw new TypeError(
      `Cannot create a per-request cache: fn must be a function, received ${describe(fn)}`,
    );
  }
  const { key: keyOf, maxEntries, cacheRejections, tags: tagsOf, outsideScope, name } =
    getValidOptions(options, fn);
  const index = nextFunctionIndex();
  const inner = controlsOf.get(fn);
  const keepsRejectionOf = (error: unknown) => keepsRejection(cacheRejections, error, cached, name);

  // The hot path. A call with at most one key part and no receiver (one argument or none, or a
  // `key` option) is found with one store read, one array index and one key lookup in the
  // table, and allocates nothing: `arguments` is only read, and handed on only through `apply`,
  // which V8 and JSC forward without building an array. A rest parameter that reaches a call
  // the engine does not inline is built on every call, so the hit path has none (the hit
  // benchmarks guard this rule), and V8 inlines `cached` only below 460 bytes of bytecode.
  function cached(this: unknown): unknown {
    const args = arguments as unknown as unknown[]; // typed for `apply`; still `arguments`
    const scope = storage.getStore()?.current;
    if (scope === undefined) return uncached.apply(this, args as []);
    let key: unknown;
    let parts: unknown[] | undefined; // for every other call, whose key is interned in a trie
    if (this === undefined && keyOf !== undefined) key = keyOf.apply(undefined, args);
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
      // join (a promise still in flight, `join`), or a miss (`callAndStore`).
      const entry = table.get(key);
      if (entry !== undefined) {
        if (entry.state === READY) {
          table.hits++; // the scope's total is summed from its tables (see ScopeState.hits)
          if (maxEntries === Infinity && !callChannel.hasSubscribers) return entry.value;
          return answer(scope, table, key, entry, "hit");
        }
        if (entry.state !== FAILED) return join(scope, table, key, entry); // or a cycle
        table.delete(key); // FAILED: its call threw and the cleanup was cut short (callAndStore)
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
   * A join: a PENDING entry's promise has not settled, and the call shares it (a COMPUTING one
   * is a cycle). Out of line, as V8 inlines `cached` into its callers only below a bytecode size.
   */
  function join(scope: ScopeState, table: EntryTable, key: unknown, entry: Entry): unknown {
    if (entry.state === COMPUTING) throw cycleError(name);
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
   * A miss: `key` is the call's key, unless `parts` is given to intern the key from. Or the
   * scope has ended: it has no tables then (so no hits either), and stores nothing.
   */
  function callAndStore(
    scope: ScopeState,
    receiver: unknown,
    args: unknown[],
    key: unknown,
    parts: unknown[] | undefined,
  ): unknown {
    if (scope.ended) return uncached.apply(receiver, args as []);
    const tags = tagsOfCall(tagsOf, args, name); // first: bad tags leave nothing stored
    const table = scope.table(index, name);
    if (parts !== undefined) key = internKey(table, receiver, parts);
    const entry: Entry = { value: undefined, state: COMPUTING };
    table.set(key, entry);
    if (tags !== undefined) table.tag(key, tags); // now: invalidateTags reaches it in flight
    table.misses++;
    scope.misses++;
    let value: unknown;
    try {
      value = computeTraced()
        ? traceCompute(scope.handle, name, fn, receiver, args)
        : fn.apply(receiver, args);
    } catch (error) {
      // Marked first, by a plain store that cannot throw: when `error` is a stack overflow, the
      // cleanup below can overflow too (V8 leaves it undone in about 1 overflow in 30), and a
      // FAILED entry is then run again instead of answering `undefined`.
      entry.state = FAILED;
      if (table.get(key) === entry) table.delete(key);
      throw error;
    }
    entry.value = value;
    if (callChannel.hasSubscribers) publishCall(scope.handle, name, "miss", value);
    if (entry.state === DROPPED) return value; // invalidated while it ran: nothing to store
    entry.state = READY;
    settle(table, key, entry);
    return value;
  }

  /** A ready entry is in the table: bound the table, and follow a promise until it settles. */
  function settle(table: EntryTable, key: unknown, entry: Entry): void {
    table.evictBeyond(maxEntries);
    table.watch(key, entry, keepsRejectionOf);
  }

  /** What a call is keyed by, for `findKey`/`internKey`: its arguments, or the `key` option's. */
  function partsOf(args: unknown[]): unknown[] {
    return keyOf === undefined ? args : [keyOf.apply(undefined, args)];
  }

  const controls: Controls = {
    invalidate(receiver, args) {
      inner?.invalidate(receiver, args);
      const table = liveScope()?.tables[index];
      return table !== undefined && table.delete(findKey(table, receiver, partsOf(args)));
    },
    clear() {
      inner?.clear();
      return liveScope()?.tables[index]?.clear() ?? 0;
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
        const key = internKey(table, receiver, partsOf(args));
        const existing = table.get(key);
        if (existing !== undefined && existing.state !== FAILED) return false;
        const entry: Entry = { value, state: READY };
        table.set(key, entry);
        if (tags !== undefined) table.tag(key, tags);
        settle(table, key, entry);
        return true;
      },
    },
  });
  return cached;
}
