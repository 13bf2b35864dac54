import { storage } from "../core/_frame.ts";
import { checkOptionNames, describe } from "../_errors.ts";
import { callInMain } from "./main_thread/_shared_entries.ts";
import { valueKey } from "./_value_key.ts";
import { workerLink } from "./in_worker/_worker_link.ts";
import { entryId } from "./_protocol.ts";

/**
 * Options of the shared {@linkcode perRequestCache} of `@reqcache/core/worker`.
 *
 * @typeParam Args The cached function's parameters.
 */
export interface SharedCacheOptions<Args extends unknown[] = unknown[]> {
  /**
   * What matches this function across threads: the main thread and every worker must create it
   * with the same name, and no two different functions may share one. Required, because a
   * function's own name does not survive minifying and is not unique.
   */
  name: string;
  /**
   * Makes the key of a call from its arguments; its result must be structured-cloneable and is
   * compared by value, like the arguments are without it.
   *
   * @default {undefined} (the arguments, compared by value)
   */
  key?: (...args: Args) => unknown;
}

const optionNames = ["name", "key"];

/**
 * Wraps `fn` so that it runs once per request for equal arguments *across threads*: one answer
 * per request wherever it runs. An entry computed in the main thread or in any worker of a
 * {@linkcode createWorkerPool} pool is reused by the others, concurrent identical calls in
 * several workers run once, and two requests never share an entry. Outside any scope it runs on
 * every call and stores nothing.
 *
 * Keys compare *by value*, not by identity as in the core `perRequestCache`: arguments must be
 * structured-cloneable data (primitives, arrays, plain objects, `Map`, `Set`, `Date`, typed
 * arrays…), and results must be structured-cloneable to reach another thread. Plain objects
 * compare by their own fields in any order; `-0` equals `0`, `NaN` equals `NaN`.
 *
 * Costs, honestly: every call, hits included, encodes its arguments to a string key. In a
 * worker, a miss that is not in the worker's copies blocks that worker for one round trip to
 * the main thread (tens of microseconds), and waits there while another thread computes the
 * same entry synchronously; so the main thread must not be busy for long. A synchronous call
 * on the main thread never waits: if a worker is computing that entry right then, the main
 * thread computes it too and keeps its result to itself. Rejected promises and thrown errors
 * are passed to everyone who waited for that computation, and never stored.
 *
 * Unlike the core function it has no `invalidate`, `clear` or `prime`, and it is not a
 * decorator. Its entries are not in `scope.stats`.
 *
 * @typeParam F The function's type; the result has the same call signature.
 * @param fn The function to cache.
 * @param options Its name across threads, and optionally how to key a call.
 * @returns The cached function.
 * @throws {TypeError} If `fn` is not a function, `name` is missing, or an option is wrong; when
 * called, if an argument (or the key) is not structured-cloneable data, or the result of a call
 * another thread needs is not structured-cloneable.
 * @throws {RangeError} When called, if it calls itself with the same arguments.
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
 * const score = perRequestCache(double, { name: "score" });
 *
 * runInCacheScope({ url: "/report" }, () => {
 *   assert.equal(score({ n: 21 }), 42);
 *   assert.equal(score({ n: 21 }), 42); // an equal object: the same entry
 * });
 * assert.equal(runs, 1);
 * ```
 */
export function perRequestCache<F extends (...args: never[]) => unknown>(
  fn: F,
  options: SharedCacheOptions<Parameters<F>>,
): F {
  if (typeof fn !== "function") {
    throw new TypeError(
      `Cannot create a shared per-request cache: fn must be a function, received ${describe(fn)}`,
    );
  }
  const { name, key: keyOf } = getValidOptions(options);
  const call = fn as unknown as (...args: unknown[]) => unknown;

  function shared(this: unknown, ...args: unknown[]): unknown {
    const state = storage.getStore()?.current;
    if (state === undefined || state.ended) return call.apply(this, args);
    const key = keyOf === undefined
      ? valueKey(name, args, false)
      : valueKey(name, [keyOf(...args)], true);
    const id = entryId(name, key);
    const compute = () => call.apply(this, args);
    const link = workerLink();
    return link === undefined
      ? callInMain(state, id, compute)
      : link.call(state, id, name, compute);
  }
  Object.defineProperty(shared, "name", { value: name });
  return shared as unknown as F;
}

function getValidOptions(
  options: SharedCacheOptions<never[]>,
): { name: string; key: ((...args: unknown[]) => unknown) | undefined } {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot create a shared per-request cache: options must be an object with a name, received ${
        describe(options)
      }`,
    );
  }
  const { name, key }: Partial<SharedCacheOptions<never[]>> = checkOptionNames(
    options,
    optionNames,
    "create a shared per-request cache",
  );
  if (name === undefined) {
    throw new TypeError(
      "Cannot create a shared per-request cache: the name option is required (it matches the function across threads)",
    );
  }
  if (typeof name !== "string" || name === "") {
    throw new TypeError(
      `Cannot create a shared per-request cache: name must be a non-empty string (it matches the function across threads), received ${
        describe(name)
      }`,
    );
  }
  if (key !== undefined && typeof key !== "function") {
    throw new TypeError(
      `Cannot create a shared per-request cache: key must be a function of the arguments, received ${
        describe(key)
      }`,
    );
  }
  return { name, key: key as ((...args: unknown[]) => unknown) | undefined };
}
