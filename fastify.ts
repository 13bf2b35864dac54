/**
 * A Fastify plugin for @reqcache/core: `await app.register(cacheScope())` gives every request of
 * the instance its own cache scope, from the next hook to the end of the response. Fastify is
 * only a peer of this entry point (types only); the core has no dependency.
 *
 * @example
 * ```ts
 * import Fastify from "fastify";
 * import { perRequestCache } from "@reqcache/core";
 * import { cacheScope } from "@reqcache/core/fastify";
 * import assert from "node:assert/strict";
 *
 * const getFlags = perRequestCache(async () => ({ beta: true }));
 * const app = Fastify();
 * await app.register(cacheScope());
 * app.get("/", () => getFlags());
 *
 * const url = await app.listen({ host: "127.0.0.1", port: 0 });
 * assert.deepEqual(await (await fetch(url)).json(), { beta: true });
 * await app.close();
 * ```
 *
 * @module
 */
export * from "./src/server/fastify_cache_scope.ts";
