/**
 * Per-request memoization for server code. Wrap a function with
 * {@linkcode perRequestCache} and it runs once per request for equal arguments; open a scope
 * per request with `using scope = openCacheScope(request)`, {@linkcode runInCacheScope} or
 * {@linkcode withCacheScope}, and the current request is found through `AsyncLocalStorage`,
 * so no context object is passed around. One request never sees another's results.
 *
 * @example Once per request
 * ```ts
 * import { openCacheScope, perRequestCache } from "@reqcache/core";
 * import assert from "node:assert/strict";
 *
 * let queries = 0;
 * const getUser = perRequestCache(async (id: string) => ({ id, query: ++queries }));
 *
 * async function handler(request: Request): Promise<Response> {
 *   using scope = openCacheScope(request);
 *   await getUser("42"); // runs the query
 *   await getUser("42"); // same request: from the cache
 *   return Response.json(scope.stats);
 * }
 *
 * const stats = await (await handler(new Request("http://localhost/"))).json();
 * assert.deepEqual([stats.hits, stats.misses, queries], [1, 1, 1]);
 * ```
 *
 * @module
 */
export type * from "./src/core/cache_channels.ts";
export * from "./src/core/cache_scope.ts";
export * from "./src/core/cache_signal.ts";
export * from "./src/core/configure_cache.ts";
export * from "./src/core/current_scope.ts";
export * from "./src/core/invalidate_tags.ts";
export * from "./src/core/open_cache_scope.ts";
export * from "./src/core/per_request_batch.ts";
export * from "./src/core/per_request_cache.ts";
export * from "./src/core/run_in_cache_scope.ts";
export * from "./src/server/with_cache_scope.ts";
export * from "./src/server/with_listener_cache_scope.ts";
