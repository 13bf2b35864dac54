import { endScopeLoggingErrors } from "./_end_scope_logging_errors.ts";
import { EndedBecause } from "../core/_end_reasons.ts";
import { type Frame, storage } from "../core/_frame.ts";
import type { ScopeState } from "../core/_scope_state.ts";
import type { CacheScope } from "../core/cache_scope.ts";
import { describe } from "../_errors.ts";
import { uncalledFactoryError } from "./_uncalled_factory_error.ts";
import { requestIdentity } from "../core/_request_identity.ts";
import { openRunFrame } from "../core/_run_frame.ts";
import { watchedScope } from "./_watch_client.ts";
import {
  type CacheScopeOptions,
  getValidCacheScopeOptions,
  type ResponseScopeOptions,
} from "./_cache_scope_options.ts";
import { serverTimingOf, trackedBody, withServerTiming } from "./_response_scope.ts";
import { type AnyIterator, isIterator, TrackedIterator } from "./_tracked_iterator.ts";
import { hasFixedBody } from "./_fixed_body.ts";

export type { CacheScopeOptions };

const ACTION = "create the cacheScope() plugin";

/** Where the plugin keeps its record of a request on Elysia's context. */
const exchangeKey: unique symbol = Symbol("reqcache.exchange");

/** What an Elysia hook of {@linkcode cacheScope} reads from Elysia's context. */
export interface ElysiaHookContext {
  /** The request, Elysia's `Request`: the scope's `request`. */
  readonly request: Request;
  /** What the handler returned (in `onAfterHandle`). */
  readonly responseValue?: unknown;
  /** The response's headers and status before it is made (in `onAfterHandle`). */
  readonly set?: { headers: Record<string, unknown> | Headers };
}

/** Elysia's context with the plugin's record of the request, from `onRequest` on. */
interface Carrier extends ElysiaHookContext {
  [exchangeKey]?: Exchange;
}

/** A hook as {@linkcode cacheScope} registers it. */
export type ElysiaHook = (context: ElysiaHookContext) => unknown;

/**
 * The part of an Elysia app that {@linkcode cacheScope} uses: its lifecycle hooks. Every Elysia
 * app has them, so the plugin takes an app of any type without this package depending on
 * Elysia.
 */
export interface ElysiaLike {
  /** Registers a hook that runs first for every request of the app. */
  onRequest(hook: ElysiaHook): unknown;
  /** Registers a hook that runs after the route's handler returned. */
  onAfterHandle(options: { as: "global" }, hook: ElysiaHook): unknown;
  /** Registers a hook that runs once the response has been handed to the server. */
  onAfterResponse(options: { as: "global" }, hook: ElysiaHook): unknown;
}

/**
 * An Elysia plugin: what {@linkcode cacheScope} returns, for `app.use(cacheScope())`. It returns
 * the app it was given, so the app keeps its type.
 */
export type CacheScopePlugin = <App>(app: App) => App;

/** One request between the hooks: its scope, and whether its body will end that scope. */
interface Exchange {
  readonly handle: CacheScope;
  readonly frame: Frame;
  /** The scope this request opened, if it did not join an outer one. */
  readonly watched: ScopeState | undefined;
  /** Whether the body is a stream whose end (or cancel) ends the scope. */
  tracked: boolean;
}

/**
 * Elysia plugin that gives every request its own context and cache scope:
 * `new Elysia().use(cacheScope())`. Cached functions called by the hooks registered after it
 * and by the handlers use the request's cache without being told, `currentScope()` is the same
 * scope in all of them, and `openCacheScope(request)` in a handler joins it.
 *
 * The scope ends once the response has been handed to the server (Elysia's `onAfterResponse`);
 * a streamed body (a generator handler, a `ReadableStream`, a `Response` with a stream) keeps it
 * until the body has been read to its end, and a client that goes away ends it at once. With
 * `waitForBody: false` it ends at `onAfterResponse` whatever the body.
 *
 * The plugin enters the scope in the request's context, so each request needs a context of its
 * own. `app.listen()` on Bun (`Bun.serve`) gives it one. Everywhere else, serve the app through
 * `withCacheScope`: `Deno.serve(withCacheScope(app.fetch))`, or
 * `withCacheScope((request) => app.handle(request))` when you call `app.handle` yourself (without
 * it, the scope would be your context's until it ends). On Deno the plugin refuses to open a
 * scope outside `withCacheScope`, since `Deno.serve` keeps one request's context for the next.
 *
 * Use it before the routes, and after the plugins that answer a request in their own `onRequest`
 * hook (a CORS preflight, a rate limiter). Elysia applies a hook only to the routes registered
 * after it but runs `onRequest` for every route, and after an `onRequest` hook that answered it
 * runs no other hook: in both cases the request would run in a scope that nothing ends (no
 * `cacheSignal()` abort, no end listeners; its entries go with it when it is collected).
 *
 * @param options When the scope ends and what the response reports.
 * @returns The plugin.
 * @throws {TypeError} If an option has the wrong type or name; if `cacheScope` itself is given
 * to `app.use` instead of `cacheScope()`; on Deno, in the request's `onRequest` (Elysia's error
 * hooks get it), if the request runs outside `withCacheScope`.
 *
 * @example An Elysia app with one cache per request
 * ```ts
 * import { Elysia } from "elysia";
 * import { perRequestCache, withCacheScope } from "@reqcache/core";
 * import { cacheScope } from "@reqcache/core/elysia";
 * import assert from "node:assert/strict";
 *
 * let queries = 0;
 * const getUser = perRequestCache(async (id: string) => ({ id, query: ++queries }));
 *
 * const app = new Elysia()
 *   .use(cacheScope({ serverTiming: true }))
 *   .get("/users/:id", async ({ params }) => {
 *     await getUser(params.id);
 *     return await getUser(params.id);
 *   });
 *
 * // A context per request on every runtime (Bun's app.listen() gives one already).
 * const handle = withCacheScope((request: Request) => app.handle(request));
 * const response = await handle(new Request("http://localhost/users/42"));
 * assert.deepEqual(await response.json(), { id: "42", query: 1 });
 * assert.equal(response.headers.get("server-timing"), 'reqcache;desc="hits=1 misses=1 joins=0"');
 * ```
 */
export function cacheScope(options?: CacheScopeOptions): CacheScopePlugin {
  // `app.use(cacheScope)`: Elysia calls the factory as the plugin, with the app.
  if (isElysiaLike(options)) throw uncalledFactoryError(ACTION, "app.use", "plugin", arguments);
  const valid = getValidCacheScopeOptions(options, ACTION);
  // Elysia reads each hook's source: to decide whether to await it (a hook it takes for async
  // makes the whole request handler async), whether it returns a value (a returning
  // onRequest answers the request), and which parts of the context to build for every route
  // (headers, query, cookies, when a hook seems to read them or passes the context on). So
  // the hooks below read only `request`, `responseValue`, `set` (for Server-Timing only) and
  // the plugin's own record, which they keep on the context under a symbol: Elysia's context
  // is per request and made to be extended, and reaches every hook of the request. None
  // passes the context on or has the words that mark a hook async or returning (only
  // onAfterHandle returns, and not as `return f(…)`, which Elysia takes for async: hence the
  // conditional, which also keeps Bun's transpiler from folding the two lines into that). A
  // test reads them with Elysia's own checks.
  function cacheScopeOnRequest(context: Carrier): void {
    context[exchangeKey] = enterScope(context.request);
  }
  function cacheScopeAfterHandle(context: Carrier): unknown {
    const value = handled(context[exchangeKey], context.request, context.responseValue, valid);
    return value === undefined ? undefined : value;
  }
  function cacheScopeServerTiming(context: Carrier): unknown {
    const value = timed(
      context[exchangeKey],
      context.request,
      context.responseValue,
      context.set,
      valid,
    );
    return value === undefined ? undefined : value;
  }
  function cacheScopeAfterResponse(context: Carrier): void {
    ended(context[exchangeKey], valid);
  }
  const afterHandle = valid.serverTiming
    ? cacheScopeServerTiming
    : valid.waitForBody
    ? cacheScopeAfterHandle
    : undefined;
  return function cacheScopePlugin<App>(app: App): App {
    if (!isElysiaLike(app)) {
      throw new TypeError(
        `Cannot use the cacheScope() plugin: app must be an Elysia app, received ${describe(app)}`,
      );
    }
    app.onRequest(cacheScopeOnRequest);
    if (afterHandle !== undefined) app.onAfterHandle({ as: "global" }, afterHandle);
    app.onAfterResponse({ as: "global" }, cacheScopeAfterResponse);
    return app;
  };
}

function isElysiaLike(app: unknown): app is ElysiaLike {
  if (typeof app !== "object" || app === null) return false;
  const { onRequest, onAfterHandle, onAfterResponse } = app as Partial<ElysiaLike>;
  return typeof onRequest === "function" && typeof onAfterHandle === "function" &&
    typeof onAfterResponse === "function";
}

/** Whether `enterWith` may change a context that the next request's handler starts from. */
const enteredContextOutlivesRequest = "Deno" in globalThis;

/**
 * Opens the request's scope and makes it the store of the request's context. Elysia has no
 * public hook that wraps the handler (`wrap()` is marked private), so `storage.run` cannot be
 * used: the scope is entered with `enterWith` in the first hook instead, and reaches every
 * later hook and the handler because Elysia calls them from that hook's context (in the same
 * call, or in continuations of it). That is only safe where the request has a context of its
 * own: `Bun.serve` calls every request's handler in one and restores its own afterwards (the
 * isolation test under load shows it), and inside a run frame (`withCacheScope`,
 * `runInCacheScope`) `enterWith` changes only that run's context, on every runtime. On Deno,
 * `Deno.serve(app.fetch)` keeps a handler's `enterWith` store for the next request's handler,
 * whose hooks before the plugin would read this request's live scope: there the plugin
 * refuses to open a scope outside a run frame, so that nothing leaks. The frame entered is a
 * run frame made for this request alone, so a scope opened in it and ended gives the slot
 * back, and nothing else enters it.
 */
function enterScope(request: Request): Exchange {
  if (enteredContextOutlivesRequest && storage.getStore()?.isRun !== true) {
    throw new TypeError(
      "Cannot open the request's cache scope in Elysia: on Deno, a request's context is kept for the next request's handler, so the scope must open inside withCacheScope; serve withCacheScope(app.fetch), or call withCacheScope((request) => app.handle(request))",
    );
  }
  const { frame, handle } = openRunFrame(
    request,
    requestIdentity(request, "open the request's cache scope"),
  );
  storage.enterWith(frame);
  return { handle, frame, watched: watchedScope(frame, handle), tracked: false };
}

/**
 * The handler returned `value`: a body that runs code while it is sent (a generator, a stream)
 * is tracked, so that its code runs in the request's scope and its end ends the scope;
 * anything else is left to `onAfterResponse`. Returns the value to send instead, or
 * `undefined` to keep it.
 */
function handled(
  exchange: Exchange | undefined,
  request: Request,
  value: unknown,
  options: ResponseScopeOptions,
): unknown {
  if (exchange === undefined) return undefined;
  exchange.watched?.stopWatchingClient();
  const mayStream = value instanceof Response || value instanceof ReadableStream ||
    isIterator(value);
  if (!options.waitForBody || !mayStream) return undefined;
  // A HEAD response's body is dropped unread, so it would never end the scope; and a scope that
  // ended already (the client went away) has nothing left to wait for.
  if (request.method === "HEAD" || exchange.handle.disposed) return undefined;
  const { handle, frame } = exchange;
  if (value instanceof Response) {
    if (hasFixedBody(value) || value.body === null) return undefined;
    exchange.tracked = true;
    return new Response(trackedBody(value.body.getReader(), handle, frame), value);
  }
  if (value instanceof ReadableStream) {
    exchange.tracked = true;
    return markedAsSse(trackedBody(value.getReader(), handle, frame), value);
  }
  exchange.tracked = true;
  return markedAsSse(new TrackedIterator(value as AnyIterator, handle, frame), value as object);
}

/** {@linkcode handled}, with the `Server-Timing` header added first. */
function timed(
  exchange: Exchange | undefined,
  request: Request,
  value: unknown,
  set: ElysiaHookContext["set"],
  options: ResponseScopeOptions,
): unknown {
  if (exchange === undefined) return undefined;
  // A Response keeps its own headers over Elysia's `set.headers`: the header goes on it.
  if (value instanceof Response) {
    const timed = withServerTiming(value, exchange.handle);
    return handled(exchange, request, timed, options) ?? (timed === value ? undefined : timed);
  }
  const headers = set?.headers;
  const timing = serverTimingOf(exchange.handle);
  if (headers instanceof Headers) headers.append("server-timing", timing);
  else if (headers !== undefined) {
    const before = headers["server-timing"];
    headers["server-timing"] = typeof before === "string" ? `${before}, ${timing}` : timing;
  }
  return handled(exchange, request, value, options);
}

/**
 * The response was handed to the server: the scope ends unless its body is tracked. It ends
 * in a microtask, after the `onAfterResponse` hooks registered after this one (Elysia calls
 * them one after the other in the same task), so that they still see the request's scope.
 */
function ended(exchange: Exchange | undefined, options: ResponseScopeOptions): void {
  if (exchange === undefined || exchange.tracked) return;
  exchange.watched?.stopWatchingClient();
  const { handle } = exchange;
  const why = options.waitForBody ? EndedBecause.responseSent : EndedBecause.handlerReturned;
  queueMicrotask(() => endScopeLoggingErrors(handle, why));
}

/** Elysia's `sse()` marks a generator or stream with `sse: true`: the tracked one keeps it. */
function markedAsSse<T extends object>(tracked: T, value: object): T {
  if ((value as { sse?: unknown }).sse === true) (tracked as { sse?: boolean }).sse = true;
  return tracked;
}
