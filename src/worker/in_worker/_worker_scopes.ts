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
import type { Entry } from "../../core/_entry_table.ts";
import type { WorkerStats } from "../worker_pool_api.ts";
import { Frame } from "../../core/_frame.ts";
import { ScopeState } from "../../core/_scope_state.ts";

/** The worker's scopes, by their number in the pool (see `_task_message.ts`). */
const scopes = new Map<number, ScopeState>();

/**
 * A worker's copy of a shared entry: what it computed or was told, with the same states as a
 * one-thread entry (`COMPUTING` while this worker runs the function synchronously for it, so a
 * call that meets it is a cycle).
 */
export type SharedCopy = Entry;

/**
 * The copies a worker keeps of shared entries, per scope: what it computed or was told, so a
 * repeated call is answered without asking the main thread. They drop when the scope ends.
 */
const copies = new Map<ScopeState, Map<string, SharedCopy>>();

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

/** The shared-entry copies of a live scope (in a worker, or a scope of the worker's own). */
export function copiesOf(state: ScopeState): Map<string, SharedCopy> {
  let entries = copies.get(state);
  if (entries === undefined) {
    copies.set(state, entries = new Map());
    state.onEnd(() => copies.delete(state));
  }
  return entries;
}

export function countTask(): void {
  tasksRun++;
}

/**
 * What the worker holds, counted from the containers themselves rather than from what the
 * code believes it released: a scope that leaked would show here.
 */
export function workerStats(): WorkerStats {
  const held = new Set<ScopeState>([...scopes.values(), ...copies.keys()]);
  let entries = 0;
  for (const state of held) {
    state.tables.forEach((table) => entries += table.size);
    entries += copies.get(state)?.size ?? 0;
  }
  return { scopes: held.size, entries, tasks: tasksRun };
}
