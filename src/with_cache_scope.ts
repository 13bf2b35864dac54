import { storage } from "./_frame.ts";
import { describe, requestIdentity } from "./_request_identity.ts";
import {
  getValidCacheScopeOptions,
  type ResponseScopeOptions,
  scopeResponse,
} from "./_response_scope.ts";
import { openRunFrame } from "./_run_frame.ts";
import type { CacheScope } from "./cache_scope.ts";
import type { Frame } from "./_frame.ts";

/** Options of {@linkcode withCacheScope} and of the Hono `cacheScope()` middleware. */
export interface CacheScopeOptions {
  /**
   * Keep the scope open until the response body has been sent (read to its end, errored, or
   * cancelled because the client went away), so code that streams the body still uses the
   * request's cache. Set it to `false` to end the scope as soon as the handler returns: the
   * response is then passed through untouched, which saves the cost of reading the body through
   * a wrapping stream (see the README's benchmark table).
   *
   * @default {true}
   */
  waitForBody?: boolean;
  /**
   * Add a `Server-Timing: reqcache;desc="hits=H misses=M"` header with the request's cache
   * hits and misses up to the moment the handler returned.
   *
   * @default {false}
   */
  serverTiming?: boolean;
}

/** A fetch-style handler: a request (and whatever else the server passes) in, a response out. */
export type FetchHandler<Req extends object, Rest extends unknown[]> = (
  request: Req,
  ...rest: Rest
) => Response | Promise<Response>;

/**
 * Wraps a fetch handler so that every request runs in a context of its own with its own cache
 * scope: `Deno.serve(withCacheScope(handler))`, `Bun.serve({ fetch: withCacheScope(handler) })`,
 * `export default { fetch: withCacheScope(handler) }` on Cloudflare Workers.
 *
 * Inside, `using scope = openCacheScope(request)` joins the request's scope, and cached
 * functions use it without being told. The scope ends when the response body has been sent
 * (or at once with `waitForBody: false`), when the handler throws, and when the client goes
 * away mid-stream. On `Deno.serve` this is also what stops an `enterWith` store from carrying
 * over to the next request's handler.
 *
 * @typeParam Req The request type the server passes (`Request`).
 * @typeParam Rest What else the server passes (Deno's `info`, Bun's `server`, workerd's `env`
 * and `ctx`).
 * @param handler The fetch handler.
 * @param options When the scope ends and what the response reports.
 * @returns A handler with the same parameters that always returns a promise.
 * @throws {TypeError} If `handler` is not a function or an option has the wrong type.
 *
 * @example One scope per request
 * ```ts
 * import { perRequestCache, withCacheScope } from "@reqcache/core";
 * import assert from "node:assert/strict";
 *
 * let queries = 0;
 * const getUser = perRequestCache(async (id: string) => ({ id, query: ++queries }));
 *
 * const handler = withCacheScope(async (_request: Request) => {
 *   const [a, b] = await Promise.all([getUser("42"), getUser("42")]);
 *   return Response.json({ same: a === b });
 * }, { serverTiming: true });
 *
 * const response = await handler(new Request("http://localhost/"));
 * assert.deepEqual(await response.json(), { same: true });
 * assert.equal(response.headers.get("server-timing"), 'reqcache;desc="hits=1 misses=1"');
 * ```
 */
export function withCacheScope<Req extends object, Rest extends unknown[]>(
  handler: FetchHandler<Req, Rest>,
  options?: CacheScopeOptions,
): (request: Req, ...rest: Rest) => Promise<Response> {
  if (typeof handler !== "function") {
    throw new TypeError(
      `Cannot wrap a handler with a cache scope: handler must be a function, received ${
        describe(handler)
      }`,
    );
  }
  const valid = getValidCacheScopeOptions(options, "wrap a handler with a cache scope");
  return function handleWithCacheScope(request: Req, ...rest: Rest): Promise<Response> {
    const identity = requestIdentity(request, "handle a request with a cache scope");
    const { frame, handle } = openRunFrame(request, identity);
    return storage.run(frame, respond, handler, request, rest, handle, frame, valid);
  };
}

async function respond<Req extends object, Rest extends unknown[]>(
  handler: FetchHandler<Req, Rest>,
  request: Req,
  rest: Rest,
  handle: CacheScope,
  frame: Frame,
  options: ResponseScopeOptions,
): Promise<Response> {
  let response: Response;
  try {
    response = await handler(request, ...rest);
  } catch (error) {
    handle[Symbol.dispose]();
    throw error;
  }
  if (!(response instanceof Response)) {
    handle[Symbol.dispose]();
    throw new TypeError(
      `Cannot send the handler's response: it must be a Response, received ${describe(response)}`,
    );
  }
  return scopeResponse(response, handle, frame, options);
}
