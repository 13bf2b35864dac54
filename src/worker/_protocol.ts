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

/**
 * How a computation ended: a value, or an error; `kept`: the owner's `cacheRejections` keeps
 * this rejection, so the entry stays (a synchronous throw is never kept).
 */
export type Outcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: SerializedError; readonly kept: boolean };

/**
 * A shared function's key as it travels: a primitive, which keys a call by itself, or the
 * by-value encoding of any other key (see `_value_key.ts`).
 */
export type WireKey =
  | string
  | number
  | bigint
  | boolean
  | null
  | undefined
  | { readonly encoded: string };

/**
 * A worker tells the main thread (the authority on a request's shared entries) about them: it
 * looks one up (answered on the lookup port), reports the computation it was told to run
 * (`id`), drops or primes entries, and reports the counts of its calls (`rows`: name, hits,
 * misses, joins, per function) when a task that used one ends.
 */
export type SharedToMain =
  & { readonly type: "shared"; readonly scope: string }
  & (
    | {
      readonly op: "lookup";
      readonly fn: string;
      readonly key: WireKey;
      readonly tags: readonly string[] | undefined;
      /** Names the `settled` message that answers a `wait`. */
      readonly wait: number;
    }
    | { readonly op: "pending"; readonly id: number }
    | { readonly op: "settle"; readonly id: number; readonly outcome: Outcome }
    | SharedDrop
    | {
      readonly op: "prime";
      readonly fn: string;
      readonly key: WireKey;
      readonly value: unknown;
      readonly tags: readonly string[] | undefined;
    }
    | { readonly op: "counts"; readonly rows: readonly (string | number)[] }
  );

/** Entries dropped on one thread, to drop on the others: by key, all (`clear`), or by tags. */
export type SharedDrop =
  | { readonly op: "drop"; readonly fn: string; readonly key: WireKey; readonly all: boolean }
  | { readonly op: "tags"; readonly tags: readonly string[] };

/** The main thread tells a worker: a promise it waits for settled, or entries were dropped. */
export type SharedToWorker =
  | {
    readonly type: "shared";
    readonly op: "settled";
    readonly wait: number;
    readonly outcome: Outcome;
  }
  | { readonly type: "shared"; readonly scope: string } & SharedDrop;

/** Main thread → worker, on the worker's channel: a task, or one of these. */
export type ToWorker =
  | TaskMessage
  | { readonly type: "init"; readonly flag: SharedArrayBuffer; readonly port: MessagePort }
  /** Scopes ended on the main thread that no task carried in time. */
  | { readonly type: "end"; readonly ends: Endings }
  | SharedToWorker
  | { readonly type: "stats"; readonly id: number };

/** Worker → main thread, on the worker's channel: a task's result, or one of these. */
export type FromWorker =
  | DoneMessage
  | { readonly type: "ready" }
  | { readonly type: "failed"; readonly id: number; readonly error: SerializedError }
  | SharedToMain
  | { readonly type: "stats"; readonly id: number; readonly stats: WorkerStats }
  /** The worker is ending itself (`process.exit`, `Deno.exit`, `close()`): sent just before. */
  | { readonly type: "exit"; readonly code: number };

/** Main thread → a blocked worker, on its lookup port. */
export type LookupAnswer =
  /** The entry is settled: here is its value (`join`: the call waited for its computation). */
  | { readonly kind: "value"; readonly value: unknown; readonly join: boolean }
  /** The synchronous computation this worker waited for threw: throw this error. */
  | { readonly kind: "error"; readonly error: SerializedError }
  /** The entry is a promise: a `settled` message follows on the channel (`join`: in flight). */
  | { readonly kind: "wait"; readonly join: boolean }
  /** Compute it here; report how it ends as computation `id`, or keep it here if none. */
  | { readonly kind: "compute"; readonly id: number | undefined };
