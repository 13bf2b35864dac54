/**
 * Elysia plugin for @reqcache/core: `new Elysia().use(cacheScope())` gives every request its
 * own cache scope. Elysia is only a peer of this entry point (types only); the core has no
 * dependency.
 *
 * @example
 * ```ts
 * import { Elysia } from "elysia";
 * import { perRequestCache, withCacheScope } from "@reqcache/core";
 * import { cacheScope } from "@reqcache/core/elysia";
 * import assert from "node:assert/strict";
 *
 * const getFlags = perRequestCache(async () => ({ beta: true }));
 * const app = new Elysia().use(cacheScope()).get("/", () => getFlags());
 * const handle = withCacheScope((request: Request) => app.handle(request));
 *
 * assert.deepEqual(await (await handle(new Request("http://localhost/"))).json(), { beta: true });
 * ```
 *
 * @module
 */
export * from "./src/server/elysia_cache_scope.ts";
