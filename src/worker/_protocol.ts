/**
 * The messages between a pool (main thread) and its workers. Everything is plain data: each
 * message is copied by structured cloning, and errors travel as {@linkcode SerializedError}.
 *
 * Two channels per worker:
 *
 * - the worker's own channel (`postMessage` both ways) carries everything that can wait for the
 *   receiver's event loop: tasks and their results (see `_task_message.ts`: a task carries
 *   the openings and endings of scopes), scope endings, shared-entry reports;
 * - a `MessagePort` plus one shared `Int32Array` carry the answer to a *lookup*, the one
 *   message a worker cannot wait for asynchronously: a synchronous cached function that missed
 *   locally blocks its thread (`Atomics.wait`) until the main thread answers, then reads the
 *   answer with `receiveMessageOnPort`. The main thread bumps the counter and notifies after
 *   posting each answer.
 */
import type { WorkerStats } from "./worker_pool_api.ts";
import type { SerializedError } from "./_error_transfer.ts";
import type { DoneMessage, Endings, TaskMessage } from "./_task_message.ts";

/** How a computation ended: a value, or an error (errors are passed on, never stored). */
export type Outcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: SerializedError };

/** Main thread → worker, on the worker's channel: a task, or one of these. */
export type ToWorker =
  | TaskMessage
  | { readonly type: "init"; readonly flag: SharedArrayBuffer; readonly port: MessagePort }
  /** Scopes ended on the main thread that no task carried in time. */
  | { readonly type: "end"; readonly ends: Endings }
  | {
    readonly type: "settled";
    readonly scope: string;
    readonly entry: string;
    readonly outcome: Outcome;
  }
  | { readonly type: "stats"; readonly id: number };

/**
 * Worker → main thread, on the worker's channel: a task's result, or one of these. `entry` is
 * the function's name and key.
 */
export type FromWorker =
  | DoneMessage
  | { readonly type: "ready" }
  | { readonly type: "failed"; readonly id: number; readonly error: SerializedError }
  | { readonly type: "lookup"; readonly scope: string; readonly entry: string }
  | { readonly type: "pending"; readonly scope: string; readonly entry: string }
  | {
    readonly type: "settle";
    readonly scope: string;
    readonly entry: string;
    readonly outcome: Outcome;
  }
  | { readonly type: "stats"; readonly id: number; readonly stats: WorkerStats }
  /** The worker is ending itself (`process.exit`, `Deno.exit`, `close()`): sent just before. */
  | { readonly type: "exit"; readonly code: number };

/** Main thread → a blocked worker, on its lookup port. */
export type LookupAnswer =
  /** The entry is settled: here is its value (`async`: the function returned a promise). */
  | { readonly kind: "value"; readonly value: unknown; readonly async: boolean }
  /** The computation this worker waited for failed: throw (or reject with) this error. */
  | { readonly kind: "error"; readonly error: SerializedError; readonly async: boolean }
  /** Another thread's promise is in flight: a `settled` message will follow on the channel. */
  | { readonly kind: "wait" }
  /** Compute it here; report the outcome only if `share` (the entry is now this worker's). */
  | { readonly kind: "compute"; readonly share: boolean };

/** The key of a shared entry inside a scope: the function's name, then the by-value key. */
export function entryId(name: string, key: string): string {
  return `${name}\u0000${key}`;
}

/** The function's name, back from an entry id, for error messages. */
export function nameOfEntry(entry: string): string {
  return entry.slice(0, entry.indexOf("\u0000"));
}

/** An entry among all scopes (an owner's report, a worker's waiter): scope id, then entry id. */
export function scopedEntryId(scope: string, entry: string): string {
  return `${scope}\u0001${entry}`;
}
