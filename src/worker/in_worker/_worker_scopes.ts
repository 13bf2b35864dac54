/**
 * A worker's side of the scopes its pool sent it: main-thread scope id → the worker's own
 * {@linkcode ScopeState} for it, with the same id and the carried context as its `request`.
 *
 * The worker's scope is long-lived: every task of that request that runs in this worker
 * re-enters it, so entries persist between the tasks of one request. It ends when the main
 * thread says its scope ended, never on a task's completion. Ending it is the core's ordinary
 * `release`, so a task still running then sees no scope and calls through uncached, exactly as
 * late code does in one thread.
 */
import type { WorkerStats } from "../worker_pool_api.ts";
import { Frame } from "../../core/_frame.ts";
import { ScopeState } from "../../core/_scope_state.ts";
import { workerLink } from "./_worker_link.ts";

/** The worker's scopes, by their number in the pool (see `_task_message.ts`). */
const scopes = new Map<number, ScopeState>();

let tasksRun = 0;

/** Makes the worker's scope for main-thread scope `ref`, with its string `id`, once. */
export function openWorkerScope(ref: number, id: string, context: object | undefined): void {
  if (scopes.has(ref)) return;
  const frame = new Frame(undefined, true);
  scopes.set(ref, new ScopeState(context, context, frame, undefined, id));
}

/** The worker's scope for main-thread scope `ref`, if that scope is still alive. */
export function workerScope(ref: number): ScopeState | undefined {
  return scopes.get(ref);
}

/**
 * Ends the worker's scope for main-thread scope `ref`, for the reason the main thread's scope
 * ended (`why`): its entries, core and shared, drop at once, and its signal (what
 * `cacheSignal()` returns to a task) aborts.
 */
export function endWorkerScope(ref: number, why: string): void {
  const state = scopes.get(ref);
  if (state === undefined) return;
  scopes.delete(ref);
  state.release(why);
}

/** A task ended: counted, and its request's calls of shared functions reported. */
export function countTask(): void {
  tasksRun++;
  workerLink()?.reportCounts();
}

/**
 * What the worker holds, counted from the containers themselves rather than from what the
 * code believes it released: a scope that leaked would show here.
 */
export function workerStats(): WorkerStats {
  let entries = 0;
  for (const state of scopes.values()) state.tables.forEach((table) => entries += table.size);
  return { scopes: scopes.size, entries, tasks: tasksRun };
}
