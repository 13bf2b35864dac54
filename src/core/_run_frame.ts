import { Frame, storage } from "./_frame.ts";
import { ScopeState } from "./_scope_state.ts";
import type { CacheScope } from "./cache_scope.ts";

/** A run frame to pass to `storage.run`, and the handle that ends its scope. */
export interface RunFrame {
  frame: Frame;
  handle: CacheScope;
}

/**
 * Makes the run frame for one unit of work (a `runInCacheScope` call, a request): it joins the
 * current scope if that scope is for the same request, and otherwise holds a fresh scope that
 * nothing around it can see.
 */
export function openRunFrame(request: object | undefined, identity: object | undefined): RunFrame {
  const current = storage.getStore()?.current;
  if (current !== undefined && current.isLiveFor(identity)) {
    return { frame: new Frame(current, true), handle: current.join() };
  }
  const frame = new Frame(undefined, true);
  return { frame, handle: new ScopeState(request, identity, frame, undefined).handle };
}
