import { checkOptionNames, describe } from "../_errors.ts";
import { getValidOptions, type PerRequestCacheOptions } from "../core/_cache_options.ts";
import { cacheFunction } from "../core/_cache_function.ts";
import { listOf, NOT_STORED } from "../core/_call_key.ts";
import { storage } from "../core/_frame.ts";
import { type MissStrategy, onTagsDropped } from "../core/_miss_strategy.ts";
import type { CachedFunction } from "../core/per_request_cache.ts";
import { isPrimitiveKey, localKey, wireKey } from "./_value_key.ts";
import type { WireKey } from "./_protocol.ts";
import { claimIndex } from "./_shared_functions.ts";
import { dropShared } from "./main_thread/_shared_authority.ts";
import { workerLink } from "./in_worker/_worker_link.ts";

/**
 * Options of the shared {@linkcode perRequestCache} of `@reqcache/core/worker`: those of the
 * core `perRequestCache`, with a required `name`.
 *
 * @typeParam Args The cached function's parameters.
 */
export interface SharedCacheOptions<Args extends unknown[] = unknown[]>
  extends PerRequestCacheOptions<Args> {
  /**
   * What matches this function across threads: the main thread and every worker must create it
   * with the same name, and no two different functions may share one on a thread (two closures
   * with one source, or two bound functions, are different functions). Required, because a
   * function's own name does not survive minifying and is not unique. It is also the name
   * shown in `scope.stats.functions` and in error messages.
   */
  name: string;
}

const optionNames = ["key", "maxEntries", "cacheRejections", "tags", "outsideScope", "name"];
const action = "create a shared per-request cache";

/**
 * Wraps `fn` so that it runs once per request for equal arguments *across threads*: one answer
 * per request wherever it runs. It is the core `perRequestCache` (the same options, tags,
 * rejection policy, joins, stats, channels, `invalidate`, `clear` and `prime`), whose misses
 * are answered by the request's authority, the main thread: an entry computed in the main
 * thread or in any worker of a {@linkcode createWorkerPool} pool is reused by the others,
 * concurrent identical calls on several threads run once (the others count as joins), and two
 * requests never share an entry. Outside any scope it runs on every call and stores nothing, or
 * warns or throws as `outsideScope` says, in a worker too.
 *
 * What differs from the core function:
 *
 * - Keys compare *by value*, not by identity: arguments (or what the `key` option returns) must
 *   be structured-cloneable data (primitives, arrays, plain objects, `Map`, `Set`, `Date`, typed
 *   arrays…). Plain objects compare by their own fields in any order; `-0` equals `0`, `NaN`
 *   equals `NaN`. A receiver (`this`) is not part of the key, and it is not a decorator.
 * - Results must be structured-cloneable to reach another thread; a rejection reaches it with
 *   its `name`, `message` and stack, as an `Error` (or a built-in error class).
 * - The controls act for the whole request: after `invalidate(...args)`, `clear()` or
 *   `invalidateTags(...)` on any thread, the next call on any thread computes again; a value
 *   primed on the main thread answers the workers' calls. `scope.stats` on the main thread,
 *   read after the request's tasks settled, counts the calls of every thread.
 *
 * Costs: a hit costs a core hit plus a check that its one argument is a primitive (an object
 * argument is encoded to a string on every call). In a worker, a miss blocks that worker for
 * one round trip to the main thread, and waits there while another thread computes the same
 * entry synchronously; so the main thread must not be busy for long. A synchronous call on the
 * main thread never waits: if a worker is computing that entry right then, the main thread
 * computes it too and keeps its result to itself.
 *
 * @typeParam F The function's type; the result has the same call signature.
 * @param fn The function to cache.
 * @param options Its name across threads, and the core's options.
 * @returns The cached function, with `invalidate`, `clear` and `prime`.
 * @throws {TypeError} If `fn` is not a function, `name` is missing or taken by another function
 * on this thread, or an option is wrong; when called, if an argument (or the key) is not
 * structured-cloneable data, or the result of a call another thread needs is not
 * structured-cloneable.
 * @throws {RangeError} If `maxEntries` is out of range; when called, if it calls itself with the
 * same arguments.
 *
 * @example Once per request, on any thread
 * ```ts
 * import { perRequestCache } from "@reqcache/core/worker";
 * import { runInCacheScope } from "@reqcache/core";
 * import assert from "node:assert/strict";
 *
 * let runs = 0;
 * function double(query: { n: number }): number {
 *   runs++;
 *   return query.n * 2;
 * }
 * const doubled = perRequestCache(double, { name: "doubled" });
 *
 * runInCacheScope({ url: "/report" }, (scope) => {
 *   assert.equal(doubled({ n: 21 }), 42);
 *   assert.equal(doubled({ n: 21 }), 42); // an equal object: the same entry
 *   assert.equal(doubled.invalidate({ n: 21 }), true);
 *   assert.equal(doubled({ n: 21 }), 42); // computed again, for every thread
 *   assert.deepEqual(scope.stats.functions[0], {
 *     name: "doubled",
 *     hits: 1,
 *     misses: 2,
 *     joins: 0,
 *     entries: 1,
 *   });
 * });
 * assert.equal(runs, 2);
 * ```
 */
export function perRequestCache<F extends (...args: never[]) => unknown>(
  fn: F,
  options: SharedCacheOptions<Parameters<F>>,
): CachedFunction<F> {
  if (typeof fn !== "function") {
    throw new TypeError(`Cannot ${action}: fn must be a function, received ${describe(fn)}`);
  }
  const call = fn as unknown as (...args: unknown[]) => unknown;
  const valid = getValidOptions(checkName(options), call, action);
  const index = claimIndex(valid.name, fn, valid.maxEntries);
  onTagsDropped(tagsDropped);
  return cacheFunction(
    call,
    valid,
    index,
    sharedStrategy(valid.name, valid.key, index),
  ) as CachedFunction<F>;
}

/** Checks the one option the shared function requires beyond the core's. */
function checkName(options: unknown): PerRequestCacheOptions {
  const { name } = checkOptionNames(options, optionNames, action);
  if (name === undefined) {
    throw new TypeError(
      `Cannot ${action}: the name option is required (it matches the function across threads), received ${
        describe(name)
      }`,
    );
  }
  if (typeof name !== "string" || name === "") {
    throw new TypeError(
      `Cannot ${action}: name must be a non-empty string (it matches the function across threads), received ${
        describe(name)
      }`,
    );
  }
  return options as PerRequestCacheOptions;
}

/**
 * Keys by value, and misses answered by the request's authority: the main thread, which
 * computes its own misses, or, from a worker, the main thread asked (see `_worker_link.ts`).
 */
function sharedStrategy(
  name: string,
  keyOption: ((...args: unknown[]) => unknown) | undefined,
  index: number,
): MissStrategy {
  /** The key `key` made last, for the miss that follows it (`callAndStore` in the core). */
  let missed: { args: unknown[]; key: WireKey } | undefined;
  return {
    hitKey(): unknown {
      // `wireKey`'s first case, before `listOf`: a one-primitive hit builds no argument array.
      if (keyOption === undefined && arguments.length === 1 && isPrimitiveKey(arguments[0])) {
        return arguments[0];
      }
      const key = wireKey(name, keyOption, listOf.apply(undefined, arguments as never));
      if (isPrimitiveKey(key)) return key;
      const table = storage.getStore()?.current?.tables[index];
      return table === undefined ? NOT_STORED : localKey(table, key, false);
    },
    key(table, args, intern) {
      missed = { args, key: wireKey(name, keyOption, args) };
      return localKey(table, missed.key, intern);
    },
    miss(miss) {
      // The key of the call that just missed (`key` made it): the key option runs once more, not twice.
      const made = missed?.args === miss.args ? missed : undefined;
      missed = undefined;
      const link = workerLink();
      if (link === undefined) return miss.compute();
      return link.miss(
        miss,
        name,
        made === undefined ? wireKey(name, keyOption, miss.args) : made.key,
      );
    },
    dropped(scope, args) {
      missed = undefined;
      const key = args === undefined ? undefined : wireKey(name, keyOption, args);
      const drop = { op: "drop", fn: name, key, all: args === undefined } as const;
      const link = workerLink();
      if (link === undefined) dropShared(scope, drop);
      else link.dropped(scope, drop);
    },
    primed(scope, args, value, tags) {
      missed = undefined;
      workerLink()?.primed(scope, name, wireKey(name, keyOption, args), value, tags);
    },
  };
}

/** `invalidateTags` on this thread: the other threads drop the request's tagged shared entries. */
const tagsDropped: Parameters<typeof onTagsDropped>[0] = (scope, tags) => {
  const link = workerLink();
  if (link === undefined) dropShared(scope, { op: "tags", tags });
  else link.dropped(scope, { op: "tags", tags });
};
