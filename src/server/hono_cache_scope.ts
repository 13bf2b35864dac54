import { handlerThrew } from "./_end_scope_logging_errors.ts";
import { watchedScope } from "./_watch_client.ts";
import { storage } from "../core/_frame.ts";
import { requestIdentity } from "../core/_request_identity.ts";
import {
  type CacheScopeOptions,
  getValidCacheScopeOptions,
  type ResponseScopeOptions,
} from "./_cache_scope_options.ts";
import { scopeResponse } from "./_response_scope.ts";
import { openRunFrame } from "../core/_run_frame.ts";

export type { CacheScopeOptions };

/**
 * The part of Hono's `Context` that {@linkcode cacheScope} uses. Hono's own `Context` has it, so
 * the middleware is a Hono `MiddlewareHandler` for every app (`app.use(cacheScope())` type-checks
 * whatever the app's `Env`), while this package declares no type dependency on Hono.
 */
export interface HonoContextLike {
  /** The request, with the platform `Request` as `raw`. */
  readonly req: { readonly raw: Request };
  /** The response the handlers produced (Hono's getter always returns one). */
  res: Response | undefined;
  /**
   * What the server passed along: `Deno.serve`'s handler info, `@hono/node-server`'s Node
   * request and response, Bun's server, or Cloudflare's bindings. Read only for a signal that
   * the response has been sent.
   */
  readonly env?: unknown;
}

/** A Hono middleware: what {@linkcode cacheScope} returns. */
export type CacheScopeMiddleware = (c: HonoContextLike, next: () => Promise<void>) => Promise<void>;

/**
 * Hono middleware that gives every request its own context and cache scope:
 * `app.use(cacheScope())`. Cached functions called by handlers and by later middleware use the
 * request's cache without being told, and `openCacheScope(c.req.raw)` or
 * `openCacheScope(c.req)` in a handler joins that scope instead of opening a second cache.
 *
 * The scope ends when the response body has been sent (so `stream()` / `streamSSE()` callbacks
 * are cached too), or at once with `waitForBody: false`; it also ends when a handler throws.
 * A fixed body (a string, bytes, JSON) runs no code while it is sent: where the server gives no
 * signal that a response was sent and the runtime tells such a body apart without making it a
 * stream (Deno and Bun: `Bun.serve`, `app.request`), the scope ends when the handler returns.
 *
 * @param options When the scope ends and what the response reports.
 * @returns The middleware.
 * @throws {TypeError} If an option has the wrong type or name.
 *
 * @example A Hono app with one cache per request
 * ```ts
 * import { Hono } from "hono";
 * import { perRequestCache } from "@reqcache/core";
 * import { cacheScope } from "@reqcache/core/hono";
 * import assert from "node:assert/strict";
 *
 * let queries = 0;
 * const getUser = perRequestCache(async (id: string) => ({ id, query: ++queries }));
 *
 * const app = new Hono();
 * app.use(cacheScope({ serverTiming: true }));
 * app.get("/users/:id", async (c) => {
 *   await getUser(c.req.param("id"));
 *   return c.json(await getUser(c.req.param("id")));
 * });
 *
 * const response = await app.request("/users/42");
 * assert.deepEqual(await response.json(), { id: "42", query: 1 });
 * assert.equal(response.headers.get("server-timing"), 'reqcache;desc="hits=1 misses=1 joins=0"');
 * ```
 */
export function cacheScope(options?: CacheScopeOptions): CacheScopeMiddleware {
  const valid = getValidCacheScopeOptions(options, "create the cacheScope() middleware");
  // Hono answers HEAD by running the GET route and dropping its body unread and uncancelled
  // (`new Response(null, getResponse)`), so waiting for that body would keep the scope forever.
  const forHead: ResponseScopeOptions = { ...valid, waitForBody: false };
  return function cacheScopeMiddleware(c, next) {
    const request = c.req.raw;
    const { frame, handle } = openRunFrame(
      request,
      requestIdentity(request, "open the request's cache scope"),
    );
    const watched = watchedScope(frame, handle);
    const respond = () => {
      watched?.stopWatchingClient();
      const returned = c.res as Response;
      const response = scopeResponse(
        returned,
        handle,
        frame,
        request.method === "HEAD" ? forHead : valid,
        c.env,
      );
      if (response !== returned) {
        // The new response already carries every header of the old one; clearing first stops
        // Hono's setter from copying them all over again into yet another Response.
        c.res = undefined;
        c.res = response;
      }
    };
    const fail = (error: unknown) => {
      throw handlerThrew(watched, handle, error);
    };
    try {
      return storage.run(frame, thenInFrame, next, respond, fail);
    } catch (error) {
      return Promise.reject(handlerThrew(watched, handle, error));
    }
  };
}

/**
 * Calls `next` and waits for it in the request's frame: the response is then handled in that
 * frame too, so a body that is tracked enters the frame without a context of its own. One
 * `then` rather than an `async` function: a single promise of our own per request.
 */
function thenInFrame(
  next: () => Promise<void>,
  respond: () => void,
  fail: (error: unknown) => never,
): Promise<void> {
  return Promise.resolve(next()).then(respond, fail);
}
