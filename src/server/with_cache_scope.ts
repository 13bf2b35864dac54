import { endScopeLoggingErrors, handlerThrew } from "./_end_scope_logging_errors.ts";
import { EndedBecause } from "../core/_end_reasons.ts";
import { type Frame, storage } from "../core/_frame.ts";
import type { ScopeState } from "../core/_scope_state.ts";
import { isPromiseLike } from "../core/_is_promise_like.ts";
import { watchedScope } from "./_watch_client.ts";
import { describe } from "../_errors.ts";
import { requestIdentity } from "../core/_request_identity.ts";
import {
  type CacheScopeOptions,
  getValidCacheScopeOptions,
  type ResponseScopeOptions,
} from "./_cache_scope_options.ts";
import { scopeResponse } from "./_response_scope.ts";
import { openRunFrame } from "../core/_run_frame.ts";
import type { CacheScope } from "../core/cache_scope.ts";

export type { CacheScopeOptions };

/**
 * A fetch-style handler: a request (and whatever else the server passes) in, a response out, or
 * nothing on `Bun.serve` once `server.upgrade(request)` has taken the request for a WebSocket.
 */
export type FetchHandler<
  Req extends object,
  Rest extends unknown[],
  Res extends Response | undefined = Response,
> = (request: Req, ...rest: Rest) => Res | Promise<Res>;

/**
 * Wraps a fetch handler so that every request runs in a context of its own with its own cache
 * scope: `Deno.serve(withCacheScope(handler))`, `Bun.serve({ fetch: withCacheScope(handler) })`,
 * `export default { fetch: withCacheScope(handler) }` on Cloudflare Workers. A handler that
 * returns nothing (on `Bun.serve`, after `server.upgrade(request)`) ends the scope at once.
 *
 * Inside, `using scope = openCacheScope(request)` joins the request's scope, and cached
 * functions use it without being told. The scope ends when the response body has been sent
 * (or at once with `waitForBody: false`), when the handler throws, and when the client goes
 * away mid-stream. Where the server gives no signal that a response was sent and the runtime
 * tells a fixed body (a string, bytes, JSON) apart (Deno, Bun), such a body ends the scope
 * when the handler returns. On `Deno.serve` this wrapper is also what stops an `enterWith` store
 * from carrying over to the next request's handler.
 *
 * @typeParam Req The request type the server passes (`Request`).
 * @typeParam Rest What else the server passes (Deno's `info`, Bun's `server`, workerd's `env`
 * and `ctx`).
 * @typeParam Res What the handler returns: `Response`, or `Response | undefined` for a `Bun.serve`
 * handler that may upgrade the request to a WebSocket.
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
 * // The second call shared the first one's promise in flight: a join.
 * assert.equal(response.headers.get("server-timing"), 'reqcache;desc="hits=0 misses=1 joins=1"');
 * ```
 */
export function withCacheScope<
  Req extends object,
  Rest extends unknown[],
  Res extends Response | undefined = Response,
>(
  handler: FetchHandler<Req, Rest, Res>,
  options?: CacheScopeOptions,
): (request: Req, ...rest: Rest) => Promise<Res> {
  if (typeof handler !== "function") {
    throw new TypeError(
      `Cannot wrap a handler with a cache scope: handler must be a function, received ${
        describe(handler)
      }`,
    );
  }
  const valid = getValidCacheScopeOptions(options, "wrap a handler with a cache scope");
  const call = handler as (request: Req, ...rest: unknown[]) => Res | Promise<Res>;
  // A plain parameter list read through `arguments`: a rest parameter would make an array per
  // request.
  return function handleWithCacheScope(request: Req): Promise<Res> {
    const identity = requestIdentity(request, "handle a request with a cache scope");
    const { frame, handle } = openRunFrame(request, identity);
    const count = arguments.length;
    const exchange: Exchange<Req, Res> = {
      call,
      request,
      count,
      serverArgument: arguments[1],
      thirdArgument: arguments[2],
      more: count > 3 ? Array.prototype.slice.call(arguments, 1) : undefined,
      watched: watchedScope(frame, handle),
      handle,
      frame,
      options: valid,
    };
    return storage.run(frame, respondInFrame, exchange) as Promise<Res>;
  } as unknown as (request: Req, ...rest: Rest) => Promise<Res>;
}

/** One request on its way through a wrapped handler. */
interface Exchange<Req, Res extends Response | undefined> {
  readonly call: (request: Req, ...rest: unknown[]) => Res | Promise<Res>;
  readonly request: Req;
  /** How many arguments the server passed, the request included. */
  readonly count: number;
  /** The server's second argument, where a completion signal may be found. */
  readonly serverArgument: unknown;
  /** The server's third argument (Cloudflare's `ctx`), if it passed one. */
  readonly thirdArgument: unknown;
  /** The server's arguments after the request, when it passed more than three in all. */
  readonly more: unknown[] | undefined;
  /** The scope this request opened, if it did not join an outer one. */
  readonly watched: ScopeState | undefined;
  readonly handle: CacheScope;
  readonly frame: Frame;
  readonly options: ResponseScopeOptions;
}

/**
 * Calls the handler and handles its response, all in the request's frame: a promise's
 * reactions run in the context they were registered in, so a body that is tracked enters the
 * frame without a context of its own. The server's arguments go on one by one, exactly as many
 * as it gave, with no spread call for the arities servers use (one to three): JSC's spread
 * calls are its slow kind.
 */
function respondInFrame<Req, Res extends Response | undefined>(
  exchange: Exchange<Req, Res>,
): Promise<Res> {
  const { call, request, count } = exchange;
  let returned: Res | Promise<Res>;
  try {
    returned = count < 2
      ? call(request)
      : count === 2
      ? call(request, exchange.serverArgument)
      : count === 3
      ? call(request, exchange.serverArgument, exchange.thirdArgument)
      : call(request, ...exchange.more!);
  } catch (error) {
    return Promise.reject(handlerThrew(exchange.watched, exchange.handle, error));
  }
  // A response returned as it is (not a promise) is answered at once: no promise of our own
  // waits for it, so the caller's `await` is the request's only hop.
  if (!isPromiseLike(returned)) {
    try {
      return Promise.resolve(answer(returned, exchange));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return Promise.resolve(returned).then(
    (response) => answer(response, exchange),
    (error) => {
      throw handlerThrew(exchange.watched, exchange.handle, error);
    },
  );
}

/** The handler's response, with the request's scope set to end when it has been sent. */
function answer<Req, Res extends Response | undefined>(
  response: Res,
  { watched, handle, frame, options, serverArgument }: Exchange<Req, Res>,
): Res {
  watched?.stopWatchingClient();
  if (response === undefined) {
    // Bun.serve's WebSocket upgrade: the server took the request, and there is no body to wait for.
    endScopeLoggingErrors(handle, EndedBecause.handlerReturned);
    return response;
  }
  if (!(response instanceof Response)) {
    endScopeLoggingErrors(handle, EndedBecause.handlerReturned);
    throw new TypeError(
      `Cannot send the handler's response: it must be a Response, received ${describe(response)}`,
    );
  }
  return scopeResponse(response, handle, frame, options, serverArgument) as Res;
}
