/**
 * Express middleware for @reqcache/core: `app.use(cacheScope())` gives every request its own
 * cache scope, from the next middleware to the end of the response. Express is only a peer of
 * this entry point (types only); the core has no dependency.
 *
 * @example
 * ```ts
 * import express from "express";
 * import { perRequestCache } from "@reqcache/core";
 * import { cacheScope } from "@reqcache/core/express";
 * import assert from "node:assert/strict";
 * import type { AddressInfo } from "node:net";
 *
 * const getFlags = perRequestCache(async () => ({ beta: true }));
 * const app = express().use(cacheScope());
 * app.get("/", async (_req, res) => void res.json(await getFlags()));
 *
 * const server = app.listen(0, "127.0.0.1");
 * await new Promise((resolve) => server.once("listening", resolve));
 * const { port } = server.address() as AddressInfo;
 * assert.deepEqual(await (await fetch(`http://127.0.0.1:${port}/`)).json(), { beta: true });
 * server.closeAllConnections();
 * server.close();
 * ```
 *
 * @module
 */
export * from "./src/server/express_cache_scope.ts";
