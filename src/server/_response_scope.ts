import { AsyncResource } from "node:async_hooks";
import { endScopeLoggingErrors } from "./_end_scope_logging_errors.ts";
import { EndedBecause } from "../core/_end_reasons.ts";
import { type Frame, storage } from "../core/_frame.ts";
import type { CacheScope } from "../core/cache_scope.ts";
import type { ResponseScopeOptions } from "./_cache_scope_options.ts";
import { hasFixedBody } from "./_fixed_body.ts";

/**
 * A server's own signal that a response has been sent or abandoned, where the server gives one:
 * `Deno.serve` passes `info.completed` (a promise) as the handler's second argument, and
 * `@hono/node-server` passes the Node `ServerResponse` as `env.outgoing`, whose `close` event
 * fires when the response is done or the client went away. With the signal the body is not
 * touched at all; without it (Bun.serve, workerd, `app.request()` in tests) a body that may be
 * a stream is read through a wrapping stream instead, which costs a stream per response (see
 * `npm run bench`), and a fixed body is passed through where the runtime tells it apart.
 */
export type Completion = (end: (why: string) => void) => void;

/** The completion signal in a handler's second argument or a Hono `c.env`, if any. */
export function completionOf(serverArgument: unknown): Completion | undefined {
  if (typeof serverArgument !== "object" || serverArgument === null) return undefined;
  const { completed, outgoing } = serverArgument as { completed?: unknown; outgoing?: unknown };
  // Deno resolves info.completed even when the client left mid-body: it cannot tell us which.
  if (completed instanceof Promise) {
    return (end) =>
      void completed.then(
        () => end(EndedBecause.responseSent),
        () => end(EndedBecause.clientGone),
      );
  }
  if (
    typeof outgoing === "object" && outgoing !== null &&
    typeof (outgoing as { once?: unknown }).once === "function"
  ) {
    const response = outgoing as {
      closed?: boolean;
      writableFinished?: boolean;
      once(event: "close", fn: () => void): void;
    };
    const closed = (end: (why: string) => void) =>
      end(
        response.writableFinished === false ? EndedBecause.clientGone : EndedBecause.responseSent,
      );
    return (end) =>
      response.closed === true ? closed(end) : response.once("close", () => closed(end));
  }
  return undefined;
}

/**
 * Ends a request's scope at the right time for the response it produced: at once when there is
 * no body to send or the body is fixed (no user code runs while it is sent), and otherwise when
 * the body has been sent, errored, or was cancelled (the client went away). Code that produces
 * a streamed body therefore still finds the request's cache, and the scope is disposed on every
 * path.
 *
 * Where the server signals completion (see {@linkcode Completion}, found in `serverArgument`)
 * that signal ends the scope. Elsewhere a fixed body is passed through untouched, and any other
 * body is read through a stream of our own whose `pull` runs inside the request's frame, so
 * that a user stream's `pull` (called by our `read()`) sees the request whatever context the
 * runtime reads the response from.
 */
export function scopeResponse(
  response: Response,
  handle: CacheScope,
  frame: Frame,
  options: ResponseScopeOptions,
  serverArgument: unknown,
): Response {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  try {
    if (options.serverTiming) response = withServerTiming(response, handle);
    // A 101 (an upgraded connection) has no body to wait for.
    if (options.waitForBody && response.status !== 101) {
      const completion = completionOf(serverArgument);
      if (completion !== undefined) {
        completion((why) => endScopeLoggingErrors(handle, why));
        return response;
      }
      // A fixed body is passed through untouched: reading `response.body` would make it a
      // stream. A body that is locked or was read already throws here: nothing will ever read
      // it, so the scope ends now and the error goes to the server.
      if (!hasFixedBody(response)) reader = response.body?.getReader();
    }
  } catch (error) {
    endScopeLoggingErrors(handle, EndedBecause.bodyFailed);
    throw error;
  }
  if (reader === undefined) {
    endScopeLoggingErrors(handle, EndedBecause.handlerReturned);
    return response;
  }
  return new Response(trackedBody(reader, handle, frame), response);
}

/** The body as the server reads it: `reader`'s chunks, read in `frame`, ending the scope. */
export function trackedBody(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  handle: CacheScope,
  frame: Frame,
): ReadableStream<Uint8Array> {
  const end = (why: string) => endScopeLoggingErrors(handle, why);
  const read = () => reader.read();
  // The frame is entered once per body, not per chunk: `storage.run` builds a new async
  // context each time it enters one (on Node, a copy of every store's slot, on entry and on
  // exit), while a resource made in the frame re-enters the context it captured. Both server
  // integrations answer in the frame already, where `run` builds nothing.
  const context = storage.run(frame, bodyContext);
  return new ReadableStream<Uint8Array>({
    // A plain `then` instead of an async function: one promise per chunk, not three.
    pull(controller) {
      let reading: Promise<ReadableStreamReadResult<Uint8Array>>;
      try {
        reading = context.runInAsyncScope(read);
      } catch (error) {
        // Thrown, not rejected (a stack overflow): the body errors, and the scope still ends.
        end(EndedBecause.bodyFailed);
        throw error;
      }
      return reading.then((chunk) => {
        if (chunk.done) {
          end(EndedBecause.responseSent);
          controller.close();
        } else {
          controller.enqueue(chunk.value);
        }
      }, (error) => {
        end(EndedBecause.bodyFailed);
        controller.error(error);
      });
    },
    cancel(reason) {
      // The body is cancelled first: the work that produces it (a Hono stream() callback, an
      // upstream fetch) must stop even if one of the scope's end listeners throws.
      try {
        return reader.cancel(reason);
      } finally {
        end(EndedBecause.clientGone);
      }
    },
  });
}

/** The current async context, every store's slot as it is now, to run a body's reads in. */
export function bodyContext(): AsyncResource {
  return new AsyncResource("reqcache.body");
}

/** The `Server-Timing` value of every server integration: the scope's figures as they are now. */
export function serverTimingOf(handle: CacheScope): string {
  const { hits, misses, joins } = handle.stats;
  return `reqcache;desc="hits=${hits} misses=${misses} joins=${joins}"`;
}

/**
 * Adds `Server-Timing: reqcache;desc="hits=H misses=M joins=J"`, copying the response if it is
 * immutable.
 */
export function withServerTiming(response: Response, handle: CacheScope): Response {
  const value = serverTimingOf(handle);
  try {
    response.headers.append("Server-Timing", value);
    return response;
  } catch {
    // Responses from fetch() or Response.redirect() have immutable headers.
    const copy = new Response(response.body, response);
    copy.headers.append("Server-Timing", value);
    return copy;
  }
}
