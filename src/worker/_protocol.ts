/**
 * The messages between a pool (main thread) and its workers. Everything is plain data: each
 * message is copied by structured cloning, and errors travel as {@linkcode SerializedError}.
 *
 * Two channels per worker:
 *
 * - the worker's own channel (`postMessage` both ways) carries everything that can wait for the
 *   receiver's event loop: tasks (with the openings and endings of scopes: see
 *   {@linkcode TaskMessage}), results, scope endings, shared-entry reports;
 * - a `MessagePort` plus one shared `Int32Array` carry the answer to a *lookup*, the one
 *   message a worker cannot wait for asynchronously: a synchronous cached function that missed
 *   locally blocks its thread (`Atomics.wait`) until the main thread answers, then reads the
 *   answer with `receiveMessageOnPort`. The main thread bumps the counter and notifies after
 *   posting each answer.
 */
import type { WorkerStats } from "./worker_pool_api.ts";
import type { SerializedError } from "./_error_transfer.ts";

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

/**
 * Scopes that ended on the main thread, as pairs in one flat array: a scope's number in the
 * pool (see {@linkcode TaskMessage}), then the phrase its reason ends with (`why`).
 */
export type Endings = readonly (number | string)[];

/**
 * A task, main thread → worker: one flat array rather than an object, because a flat array of
 * plain values is the cheapest message to clone on every runtime (Bun has a fast path for it)
 * and each nested array or object costs more. So the endings go inline and the arguments last:
 *
 *     [id, task, scope, opening, context, endings, ...(scope, why) × endings, ...args]
 *
 * - `scope`: the caller's scope, by its number in the pool, or `undefined` for none. Messages
 *   name scopes by number, not by their string id: a string that arrives in a message is a new
 *   string, and a map hashes each new string it is given, which costs more than a number.
 * - `opening`, `context`: the scope's opening, carried by the first of its tasks that goes to
 *   this worker (the worker makes its copy of the scope, with the scope's string id and this
 *   context, before it runs the task), so a request with one task costs no message of its own to
 *   open its scope; `opening` is `undefined` on the scope's later tasks.
 * - `endings`: how many scopes ended since the last message to this worker, as pairs like
 *   {@linkcode Endings}; they end there once the task has started, so a request's end costs no
 *   message of its own when another task follows soon.
 */
export type TaskMessage = readonly [
  id: number,
  task: string,
  scope: number | undefined,
  opening: string | undefined,
  context: object | undefined,
  endings: number,
  ...rest: unknown[],
];

/** Where a {@linkcode TaskMessage}'s endings start, after its fixed fields. */
export const TASK_HEAD = 6;

/** Main thread → worker, on the worker's channel: a task, or one of these. */
export type ToWorker =
  | TaskMessage
  | { readonly type: "init"; readonly flag: SharedArrayBuffer; readonly port: MessagePort }
  /** Scopes ended on the main thread that no task carried in time. */
  | { readonly type: "end"; readonly ends: Endings }
  | SharedToWorker
  | { readonly type: "stats"; readonly id: number };

/**
 * A task's result, worker → main thread: a flat array, as a {@linkcode TaskMessage} is, and for
 * the same reason.
 */
export type DoneMessage = readonly [id: number, value: unknown];

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
