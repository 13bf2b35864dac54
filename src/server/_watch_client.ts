import type { Frame } from "../core/_frame.ts";
import type { ScopeState } from "../core/_scope_state.ts";
import type { CacheScope } from "../core/cache_scope.ts";
import { clientGoneLoggingErrors } from "./_end_scope_logging_errors.ts";

/**
 * Notices the client leave while a fetch handler runs, through `request.signal`: what a server
 * integration gives `ScopeState.watchClientWith`, called only on the first read of the scope's
 * signal. What each server does with `request.signal` (measured, see the README):
 *
 * - `Bun.serve` and `@hono/node-server` abort it only when the client disconnects early;
 * - `Deno.serve` 2.9.6 aborts it when the client disconnects, and also after every response it
 *   sent in full, and prints a one-time "legacy behavior" warning on its first read.
 *
 * So it is read only when someone asks for the scope's signal (apps that never do get no
 * warning and no listener), and listened to only until the handler returns: after that the
 * response's own end (body sent or cancelled, `info.completed`, the Node response's `close`)
 * ends the scope, and Deno's abort after a full response would be mistaken for a client gone.
 */
export function watchRequestSignal(state: ScopeState): () => void {
  const signal = (state.request as { signal?: unknown }).signal;
  if (!(signal instanceof AbortSignal)) return ignore;
  const handle = state.handle;
  const onAbort = () => clientGoneLoggingErrors(state, handle);
  if (signal.aborted) {
    onAbort();
    return ignore;
  }
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

function ignore(): void {}

/**
 * The scope a fetch integration's request opened in `frame`, now watching its client; or
 * `undefined` when the request joined an outer scope (`handle` is then not its opening handle),
 * whose own opener watches it.
 */
export function watchedScope(frame: Frame, handle: CacheScope): ScopeState | undefined {
  const state = frame.current!;
  if (state.handle !== handle) return undefined;
  state.watchClientWith(watchRequestSignal);
  return state;
}
