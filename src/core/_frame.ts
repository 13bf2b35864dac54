import { AsyncLocalStorage } from "node:async_hooks";
import type { ScopeState } from "./_scope_state.ts";

/**
 * What the async context holds: a slot for the scope that cached functions use right now.
 *
 * There are two kinds of frame, and the difference is the whole isolation story:
 *
 * - A *run* frame is made by `storage.run(...)` (`runInCacheScope`, `withCacheScope`, the
 *   middleware). `run` restores the caller's store when its callback returns, so a run frame is
 *   seen only by the code that descends from that one call: one request. Opening a scope inside
 *   it fills the slot and disposing empties it again; no `enterWith` is needed, which is what
 *   makes `using` work on workerd, where `enterWith` throws.
 * - An *entered* frame is made by `storage.enterWith(...)` (`openCacheScope` with no run frame
 *   around it). `enterWith` changes the store of the execution that is running, and on
 *   `Deno.serve` that execution is the server's accept loop, so the next request's handler
 *   starts with this frame as its store. An entered frame may therefore be seen by a request
 *   that did not make it. `openCacheScope` treats it with that suspicion (it never adopts
 *   another request's active scope), but code that runs in such a handler *before* it opens its
 *   own scope reads the other request's cache: nothing in the store says which request is
 *   running. Only a run context per request (`withCacheScope`) closes that gap, which is why
 *   the README sends `Deno.serve` users there.
 *
 * When a scope ends, every frame that holds it has its slot emptied (or given back to the scope
 * it was opened over, for a run frame). Code that still runs in that context afterwards (a
 * timer, a late promise) then finds no scope and calls through uncached.
 */
export class Frame {
  /** The scope cached functions use in this context, or `undefined` for none. */
  current: ScopeState | undefined;
  /** Whether `storage.run` made this frame (see the class comment). */
  readonly isRun: boolean;

  constructor(current: ScopeState | undefined, isRun: boolean) {
    this.current = current;
    this.isRun = isRun;
  }
}

/** The one store of the package: every entry point reads the same instance. */
export const storage: AsyncLocalStorage<Frame> = new AsyncLocalStorage<Frame>();

/**
 * The scope cached functions use in the current context, unless it has ended: code that
 * outlives its request (a timer, a late promise) finds none. The hit paths read the same two
 * fields inline.
 */
export function liveScope(): ScopeState | undefined {
  const scope = storage.getStore()?.current;
  return scope === undefined || scope.ended ? undefined : scope;
}
