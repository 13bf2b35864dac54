import { endScopeLoggingErrors } from "./_end_scope_logging_errors.ts";
import { endOnClose } from "./_node_response_scope.ts";
import { EndedBecause } from "../core/_end_reasons.ts";
import { storage } from "../core/_frame.ts";
import { describe } from "../_errors.ts";
import { requestIdentity } from "../core/_request_identity.ts";
import { openRunFrame } from "../core/_run_frame.ts";

/** The part of a `node:http` `ServerResponse` the wrapper uses: its `close` event. */
export interface ClosableResponse {
  /** Whether the response has closed already (Node's `ServerResponse#closed`). */
  readonly closed?: boolean;
  /** Whether the response was sent in full (Node's `ServerResponse#writableFinished`). */
  readonly writableFinished?: boolean;
  /** Registers a one-time listener; the wrapper listens for `close`. */
  once(event: "close", listener: () => void): unknown;
}

/**
 * Wraps a `node:http` request listener (or Express-style middleware) so that every request
 * runs in a context of its own with its own cache scope, which ends when the response closes:
 * when it has been sent, or when the client went away. `http.createServer(withListenerCacheScope(listener))`.
 *
 * `openCacheScope(req)` inside joins the request's scope. If the listener throws
 * synchronously, the scope ends at once and the error is rethrown.
 *
 * @typeParam Req The request type (`IncomingMessage`).
 * @typeParam Res The response type (`ServerResponse`).
 * @typeParam Rest Further arguments (Express's `next`).
 * @param listener The request listener.
 * @returns A listener with the same parameters.
 * @throws {TypeError} If `listener` is not a function.
 *
 * @example A node:http server with a cache per request
 * ```ts
 * import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
 * import { perRequestCache, withListenerCacheScope } from "@reqcache/core";
 * import assert from "node:assert/strict";
 *
 * let queries = 0;
 * const getUser = perRequestCache(async (id: string) => ({ id, query: ++queries }));
 *
 * const server = createServer(withListenerCacheScope(async (_req: IncomingMessage, res: ServerResponse) => {
 *   await getUser("42");
 *   res.end(JSON.stringify(await getUser("42")));
 * }));
 * await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
 * const { port } = server.address() as { port: number };
 * const body = await (await fetch(`http://127.0.0.1:${port}/`)).json();
 * server.close();
 * assert.deepEqual(body, { id: "42", query: 1 });
 * ```
 */
export function withListenerCacheScope<
  Req extends object,
  Res extends ClosableResponse,
  Rest extends unknown[],
>(
  listener: (req: Req, res: Res, ...rest: Rest) => unknown,
): (req: Req, res: Res, ...rest: Rest) => void {
  if (typeof listener !== "function") {
    throw new TypeError(
      `Cannot wrap a request listener with a cache scope: listener must be a function, received ${
        describe(listener)
      }`,
    );
  }
  return function listenWithCacheScope(req: Req, res: Res, ...rest: Rest): void {
    const run = openRunFrame(req, requestIdentity(req, "handle a request with a cache scope"));
    const { frame, handle } = run;
    const end = endOnClose(res, run);
    if (res.closed) end();
    else res.once("close", end);
    try {
      storage.run(frame, listener, req, res, ...rest);
    } catch (error) {
      endScopeLoggingErrors(handle, EndedBecause.handlerThrew);
      throw error;
    }
  };
}
