import { uncalledFactoryError } from "./_uncalled_factory_error.ts";
import { endScopeLoggingErrors } from "./_end_scope_logging_errors.ts";
import { getValidCacheScopeOptions } from "./_cache_scope_options.ts";
import type { CacheScopeOptions } from "./_cache_scope_options.ts";
import { type NodeResponseLike, openNodeScope, readInFrame } from "./_node_response_scope.ts";
import { EndedBecause } from "../core/_end_reasons.ts";
import { type Frame, storage } from "../core/_frame.ts";
import type { CacheScope } from "../core/cache_scope.ts";

export type { CacheScopeOptions };
export type { NodeResponseLike };

/**
 * The part of Koa's `Context` that {@linkcode cacheScope} uses. Koa's own `Context` has it, so
 * `app.use(cacheScope())` type-checks while this package declares no dependency on Koa.
 */
export interface KoaContextLike {
  /** Koa's request: what `scope.request` is. */
  readonly request: object;
  /** The `node:http` response. */
  readonly res: NodeResponseLike;
  /** The body Koa sends once every middleware has finished. */
  readonly body?: unknown;
}

/** A Koa middleware: what {@linkcode cacheScope} returns. */
export type KoaCacheScopeMiddleware = (
  ctx: KoaContextLike,
  next: () => Promise<unknown>,
) => Promise<void>;

const ACTION = "create the Koa cacheScope() middleware";

/**
 * Koa middleware that gives every request its own context and cache scope:
 * `app.use(cacheScope())`. Every middleware registered after it runs in the request's scope,
 * `currentScope()` is the same scope in all of them, and `scope.request` is `ctx.request`.
 *
 * The scope ends when the response has been sent in full: Koa sends `ctx.body` after every
 * middleware has finished, outside any middleware's context, so a Node readable stream set as
 * the body is read in the request's context, and the code that produces it still uses the
 * request's cache. It ends as soon as the client goes away, and its `cacheSignal()` then
 * aborts. With `waitForBody: false` it ends when the middleware after it has finished.
 *
 * @param options When the scope ends and what the response reports.
 * @returns The middleware.
 * @throws {TypeError} If an option has the wrong type or name, or if `cacheScope` itself is
 * given to `app.use` instead of `cacheScope()` (when the first request comes).
 *
 * @example A Koa app with one cache per request
 * ```ts
 * import Koa from "koa";
 * import { perRequestCache } from "@reqcache/core";
 * import { cacheScope } from "@reqcache/core/koa";
 * import assert from "node:assert/strict";
 * import type { AddressInfo } from "node:net";
 *
 * let queries = 0;
 * const getUser = perRequestCache(async (id: string) => ({ id, query: ++queries }));
 *
 * const app = new Koa();
 * app.use(cacheScope({ serverTiming: true }));
 * app.use(async (ctx) => {
 *   await getUser("42");
 *   ctx.body = await getUser("42");
 * });
 *
 * const server = app.listen(0, "127.0.0.1");
 * await new Promise((resolve) => server.once("listening", resolve));
 * const { port } = server.address() as AddressInfo;
 * const response = await fetch(`http://127.0.0.1:${port}/`);
 * assert.deepEqual(await response.json(), { id: "42", query: 1 });
 * assert.equal(response.headers.get("server-timing"), 'reqcache;desc="hits=1 misses=1 joins=0"');
 * server.closeAllConnections();
 * server.close();
 * ```
 */
export function cacheScope(options?: CacheScopeOptions): KoaCacheScopeMiddleware {
  if (arguments.length > 1) throw uncalledFactoryError(ACTION, "app.use", "middleware", arguments);
  const valid = getValidCacheScopeOptions(options, ACTION);
  const after = valid.waitForBody ? readBodyInFrame : endNow;
  return function cacheScopeMiddleware(ctx, next) {
    const { frame, handle } = openNodeScope(ctx.request, ctx.res, valid, false);
    return storage.run(frame, thenInFrame, next, ctx, frame, handle, after);
  };
}

/** What happens once the later middleware has finished. */
type After = (ctx: KoaContextLike, frame: Frame, handle: CacheScope) => void;

function readBodyInFrame(ctx: KoaContextLike, frame: Frame): void {
  readInFrame(ctx.body, frame);
}

function endNow(_ctx: KoaContextLike, _frame: Frame, handle: CacheScope): void {
  endScopeLoggingErrors(handle, EndedBecause.handlerReturned);
}

/**
 * Calls `next` in the request's frame and, once it has finished, `after`. A rejection ends the
 * scope only with `waitForBody: false`: otherwise Koa answers the error, and the response's
 * `close` ends it. One `then`: a single promise of our own per request.
 */
function thenInFrame(
  next: () => Promise<unknown>,
  ctx: KoaContextLike,
  frame: Frame,
  handle: CacheScope,
  after: After,
): Promise<void> {
  return Promise.resolve(next()).then(() => after(ctx, frame, handle), (error) => {
    if (after === endNow) endScopeLoggingErrors(handle, EndedBecause.handlerThrew);
    throw error;
  });
}
