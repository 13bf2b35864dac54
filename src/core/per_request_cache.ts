import { describe } from "../_errors.ts";
import { getValidOptions, type PerRequestCacheOptions } from "./_cache_options.ts";
import { type CachedFunction, isDecoratorContext } from "./_cached_function.ts";
import { nextFunctionIndex } from "./_function_index.ts";
import { cacheFunction } from "./_cache_function.ts";

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
    return cacheFunctionOf(fn, { name: String(options.name) });
  }
  return cacheFunctionOf(fn, options);
}

function cacheFunctionOf(
  fn: (...args: unknown[]) => unknown,
  options: PerRequestCacheOptions | undefined,
): unknown {
  if (typeof fn !== "function") {
    throw new TypeError(
      `Cannot create a per-request cache: fn must be a function, received ${describe(fn)}`,
    );
  }
  return cacheFunction(fn, getValidOptions(options, fn), nextFunctionIndex());
}
