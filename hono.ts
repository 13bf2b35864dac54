/**
 * Hono middleware for @reqcache/core: `app.use(cacheScope())` gives every request its own cache
 * scope. Hono is only a peer of this entry point (types only); the core has no dependency.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { perRequestCache } from "@reqcache/core";
 * import { cacheScope } from "@reqcache/core/hono";
 * import assert from "node:assert/strict";
 *
 * const getFlags = perRequestCache(async () => ({ beta: true }));
 * const app = new Hono().use(cacheScope());
 * app.get("/", async (c) => c.json(await getFlags()));
 *
 * assert.deepEqual(await (await app.request("/")).json(), { beta: true });
 * ```
 *
 * @module
 */
export * from "./src/server/hono_cache_scope.ts";
