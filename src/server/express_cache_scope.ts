import { uncalledFactoryError } from "./_uncalled_factory_error.ts";
import { getValidCacheScopeOptions } from "./_cache_scope_options.ts";
import type { CacheScopeOptions } from "./_cache_scope_options.ts";
import { type NodeResponseLike, openNodeScope } from "./_node_response_scope.ts";
import { storage } from "../core/_frame.ts";

export type { CacheScopeOptions };
export type { NodeResponseLike };

/**
 * An Express middleware: what {@linkcode cacheScope} returns. Express's own `Request` and
 * `Response` are a request object and a {@linkcode NodeResponseLike}, so `app.use(cacheScope())`
 * type-checks while this package declares no dependency on Express.
 */
export type ExpressCacheScopeMiddleware = (
  req: object,
  res: NodeResponseLike,
  next: () => void,
) => void;

const ACTION = "create the Express cacheScope() middleware";

/**
 * Express middleware that gives every request its own context and cache scope:
 * `app.use(cacheScope())`. Every middleware and route handler registered after it (body
 * parsers such as `express.json()` included) runs in the request's scope, `currentScope()` is
 * the same scope in all of them, and `scope.request` is Express's `req`.
 *
 * The scope ends when the response has been sent in full, so a handler that writes its body
 * over time (`res.write`) still uses the request's cache after it returned; it ends as soon as
 * the client goes away, and its `cacheSignal()` then aborts. Express tells a middleware nothing
 * when an async handler returns: with `waitForBody: false` the scope ends when the response's
 * head is written (the first `res.write`, or `res.send`/`res.end`).
 *
 * @param options When the scope ends and what the response reports.
 * @returns The middleware.
 * @throws {TypeError} If an option has the wrong type or name, or if `cacheScope` itself is
 * given to `app.use` instead of `cacheScope()` (when the first request comes).
 *
 * @example An Express app with one cache per request
 * ```ts
 * import express from "express";
 * import { perRequestCache } from "@reqcache/core";
 * import { cacheScope } from "@reqcache/core/express";
 * import assert from "node:assert/strict";
 * import type { AddressInfo } from "node:net";
 *
 * let queries = 0;
 * const getUser = perRequestCache(async (id: string) => ({ id, query: ++queries }));
 *
 * const app = express();
 * app.use(cacheScope({ serverTiming: true }));
 * app.get("/users/:id", async (req, res) => {
 *   await getUser(req.params.id);
 *   res.json(await getUser(req.params.id));
 * });
 *
 * const server = app.listen(0, "127.0.0.1");
 * await new Promise((resolve) => server.once("listening", resolve));
 * const { port } = server.address() as AddressInfo;
 * const response = await fetch(`http://127.0.0.1:${port}/users/42`);
 * assert.deepEqual(await response.json(), { id: "42", query: 1 });
 * assert.equal(response.headers.get("server-timing"), 'reqcache;desc="hits=1 misses=1 joins=0"');
 * server.closeAllConnections();
 * server.close();
 * ```
 */
export function cacheScope(options?: CacheScopeOptions): ExpressCacheScopeMiddleware {
  if (arguments.length > 1) throw uncalledFactoryError(ACTION, "app.use", "middleware", arguments);
  const valid = getValidCacheScopeOptions(options, ACTION);
  const endWhenHeadersGo = !valid.waitForBody;
  return function cacheScopeMiddleware(req, res, next) {
    storage.run(openNodeScope(req, res, valid, endWhenHeadersGo).frame, next);
  };
}
