/**
 * What the Express, Fastify and Koa adapters share: all three answer through a `node:http`
 * `ServerResponse` (Node's own, Bun's and Deno's), so the end of a request's scope, the
 * `Server-Timing` header and a streamed body's reads are handled once, here, on that response.
 *
 * What `node:http` tells about a response's end (measured on Node 24, Bun 1.4.4, Deno 2.9.6):
 * the response emits `close` once, after the last byte went to the socket, with
 * `writableFinished === true`; and 1–5 ms after the client went away, with `writableFinished`
 * `false`, whether the handler has answered or not. `closed` says whether that happened already,
 * except on Deno, where it is `undefined`: the listener is then added anyway.
 */
import type { AsyncResource } from "node:async_hooks";
import { clientGoneLoggingErrors, endScopeLoggingErrors } from "./_end_scope_logging_errors.ts";
import type { ResponseScopeOptions } from "./_cache_scope_options.ts";
import { bodyContext, serverTimingOf } from "./_response_scope.ts";
import { EndedBecause } from "../core/_end_reasons.ts";
import { type Frame, storage } from "../core/_frame.ts";
import type { CacheScope } from "../core/cache_scope.ts";
import { openRunFrame, type RunFrame } from "../core/_run_frame.ts";

/**
 * The part of a `node:http` `ServerResponse` the adapters use. Methods, not function-typed
 * fields, so that each framework's own response type (with its overloads) is one.
 */
export interface NodeResponseLike {
  /** Whether the response has closed already (`undefined` on Deno). */
  readonly closed?: boolean;
  /** Whether the response was sent in full. */
  readonly writableFinished?: boolean;
  /** Registers a listener; the adapters listen for `close`. */
  on(event: "close", listener: () => void): unknown;
  /** Reads a header set so far. */
  getHeader(name: string): unknown;
  /** Sets a header before the head is written. */
  setHeader(name: string, value: string | string[]): unknown;
  /** Writes the head: `node:http` calls it for headers written implicitly too. */
  writeHead(statusCode: number, ...rest: unknown[]): unknown;
}

/** A Node readable stream, as far as reading it in a request's context goes. */
interface NodeReadableLike {
  pipe(...args: unknown[]): unknown;
  _read(size: number): void;
}

/**
 * Opens the scope of the request that `response` answers and ends it when the response closes:
 * sent in full ("the response was sent"), or abandoned because the client went away, which ends
 * it whatever handles the handler's code still holds. `request` is the framework's own request
 * object (what `scope.request` is); an `openCacheScope(request)` inside joins this scope.
 *
 * With `serverTiming`, the header gets the scope's figures when the head is written; with
 * `endWhenHeadersGo` (Express with `waitForBody: false`: Express says nothing when an async
 * handler returns) the scope ends then too.
 */
export function openNodeScope(
  request: object,
  response: NodeResponseLike,
  options: ResponseScopeOptions,
  endWhenHeadersGo: boolean,
): RunFrame {
  // The framework's request object is its own identity (none carries a platform `Request` as
  // `raw`), so `requestIdentity` and its reads are skipped: `openCacheScope(request)` inside
  // computes the same object.
  const run = openRunFrame(request, request);
  const { handle } = run;
  const end = endOnClose(response, run);
  if (response.closed === true) end();
  // `on`, not `once`: `close` fires once, and `once` would wrap `end` in one more closure.
  else response.on("close", end);
  if (options.serverTiming || endWhenHeadersGo) {
    whenHeadersGo(response, handle, options.serverTiming, endWhenHeadersGo);
  }
  return run;
}

/**
 * What ends a request's scope when its `node:http` response closes: it was sent in full ("the
 * response was sent"), or the client went away first (`writableFinished === false`), and then the
 * request is over whatever handles the handler's code still holds.
 */
export function endOnClose(
  response: { readonly writableFinished?: boolean },
  { frame, handle }: RunFrame,
): () => void {
  const state = frame.current!;
  return () =>
    response.writableFinished === false
      ? clientGoneLoggingErrors(state, handle)
      : endScopeLoggingErrors(handle, EndedBecause.responseSent);
}

/**
 * Runs `next` in the request's frame: everything the framework calls from it, and every
 * continuation of that, sees the request's scope. `storage.run` builds no context when the
 * frame is current already (a hook that enters it again).
 */
export function runInFrame(frame: Frame, next: () => unknown): void {
  if (storage.getStore() === frame) next();
  else storage.run(frame, next);
}

/**
 * Has the reads of `body`, if it is a Node readable stream, run in `frame` (entered once, not
 * per chunk): a framework that pipes a body after the request's handlers finished (Koa always,
 * any of them after backpressure, from the socket's `drain`) reads it outside the request's
 * context, where the code that produces the body would find no scope.
 */
export function readInFrame(body: unknown, frame: Frame): void {
  if (typeof body !== "object" || body === null) return;
  const stream = body as Partial<NodeReadableLike>;
  if (typeof stream.pipe !== "function" || typeof stream._read !== "function") return;
  const read = stream._read;
  const context: AsyncResource = storage.run(frame, bodyContext);
  stream._read = function readInRequestContext(this: NodeReadableLike, size: number): void {
    context.runInAsyncScope(read, this, size);
  };
}

/**
 * Wraps this one response's `writeHead` (which `node:http` calls for implicit headers too: the
 * first `write()` or `end()`), to add the `Server-Timing` header and end the scope when the head
 * goes. Only for the options that ask for it: the default path wraps nothing.
 */
function whenHeadersGo(
  response: NodeResponseLike,
  handle: CacheScope,
  serverTiming: boolean,
  end: boolean,
): void {
  const writeHead = response.writeHead;
  response.writeHead = function writeHeadOfScope(this: NodeResponseLike, ...args: unknown[]) {
    if (serverTiming) {
      const value = serverTimingOf(handle);
      const set = this.getHeader("Server-Timing");
      this.setHeader(
        "Server-Timing",
        set === undefined ? value : [...(Array.isArray(set) ? set : [String(set)]), value],
      );
    }
    if (end) endScopeLoggingErrors(handle, EndedBecause.handlerReturned);
    return writeHead.apply(this, args as [number, ...unknown[]]);
  };
}
