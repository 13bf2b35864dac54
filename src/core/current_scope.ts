import { liveScope } from "./_frame.ts";
import type { CacheScope } from "./cache_scope.ts";

/**
 * The scope that cached functions use in the current async context, if any.
 *
 * An ended scope is never returned: code that outlives its request (a timer, a late promise)
 * gets `undefined`, and cached functions called there run uncached.
 *
 * @returns The current scope's handle, or `undefined` outside any scope.
 *
 * @example Checking for a scope
 * ```ts
 * import { currentScope, runInCacheScope } from "@reqcache/core";
 * import assert from "node:assert/strict";
 *
 * assert.equal(currentScope(), undefined);
 * runInCacheScope({ url: "/" }, (scope) => {
 *   assert.equal(currentScope(), scope);
 * });
 * ```
 */
export function currentScope(): CacheScope | undefined {
  return liveScope()?.handle;
}
