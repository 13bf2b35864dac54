import { isPromiseLike } from "./_is_promise_like.ts";
import { storage } from "./_frame.ts";
import { disposeBecause, EndedBecause } from "./_end_reasons.ts";
import { describe } from "../_errors.ts";
import { requestIdentity } from "./_request_identity.ts";
import { openRunFrame } from "./_run_frame.ts";
import type { CacheScope } from "./cache_scope.ts";

/**
 * Runs `fn` in a run context of its own with a scope for `request`, and ends the scope when
 * `fn` returns, throws, or, if it returns a promise, when that promise settles.
 *
 * This is the callback form of {@linkcode openCacheScope} and works on every runtime (it uses
 * `AsyncLocalStorage.run`, never `enterWith`). If `request`'s scope is already current, `fn`
 * joins it; otherwise `fn` gets a fresh cache, isolated from any scope around the call, and that
 * outer scope is untouched when `fn` is done.
 *
 * @typeParam R What `fn` returns.
 * @param request The request the scope is for, or `undefined` for a scope of its own.
 * @param fn The work to run; it receives the scope's handle.
 * @returns What `fn` returns.
 * @throws {TypeError} If `request` is not an object or `fn` is not a function.
 *
 * @example A scope around one unit of work
 * ```ts
 * import { perRequestCache, runInCacheScope } from "@reqcache/core";
 * import assert from "node:assert/strict";
 *
 * let loads = 0;
 * const loadFlags = perRequestCache(async () => ({ beta: true, load: ++loads }));
 *
 * const stats = await runInCacheScope({ job: "nightly" }, async (scope) => {
 *   await loadFlags();
 *   await loadFlags();
 *   return scope.stats;
 * });
 * assert.equal(stats.hits, 1);
 * assert.equal(loads, 1);
 * ```
 */
export function runInCacheScope<R>(
  request: object | undefined,
  fn: (scope: CacheScope) => R,
): R {
  const identity = requestIdentity(request, "run in a cache scope");
  if (typeof fn !== "function") {
    throw new TypeError(
      `Cannot run in a cache scope: fn must be a function, received ${describe(fn)}`,
    );
  }
  const { frame, handle } = openRunFrame(request, identity);
  return storage.run(frame, runUntilSettled, handle, fn);
}

function runUntilSettled<R>(handle: CacheScope, fn: (scope: CacheScope) => R): R {
  let result: R;
  try {
    result = fn(handle);
  } catch (error) {
    disposeBecause(handle, EndedBecause.settled);
    throw error;
  }
  if (!isPromiseLike(result)) {
    disposeBecause(handle, EndedBecause.settled);
    return result;
  }
  return result.then(
    (value) => {
      disposeBecause(handle, EndedBecause.settled);
      return value;
    },
    (error) => {
      disposeBecause(handle, EndedBecause.settled);
      throw error;
    },
  ) as R;
}
