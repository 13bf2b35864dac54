/**
 * The worker API's types: what {@linkcode createWorkerPool} and {@linkcode spawnWorker} take and
 * return, and what {@linkcode serveTasks} serves. Types only, importing nothing but the core's
 * scope handle, so that every worker file, on either thread, can use them without tying itself
 * to another.
 */
import type { CacheScope } from "../core/cache_scope.ts";

/** The tasks a worker serves: task name → function. Arguments and results must clone. */
export type TaskMap = { readonly [name: string]: (...args: never[]) => unknown };

/** How a pool is typed when no task types are given: any task name, any arguments. */
export type UntypedTasks = { readonly [name: string]: (...args: unknown[]) => unknown };

/** Options of {@linkcode createWorkerPool}. */
export interface WorkerPoolOptions {
  /**
   * How many workers to start (all at once, when the pool is created). A positive integer.
   *
   * @default {navigator.hardwareConcurrency, or 4 where it is unknown}
   */
  size?: number;
  /**
   * How many tasks may wait for a worker; one more rejects with a `RangeError`. A non-negative
   * integer, or `Infinity`.
   *
   * @default {1024}
   */
  maxQueue?: number;
  /**
   * Picks what a worker gets to know about the caller's scope: called once per scope (when
   * its first task is submitted), it returns structured-cloneable data such as a request id,
   * a user id or a locale, which becomes `currentScope().request` inside the workers.
   *
   * @default {`{ url, method }` of the scope's request when it has a string `url`, else undefined}
   */
  context?: (scope: CacheScope) => object | undefined;
  /**
   * How long a task may run on after the scope it was submitted in has ended, in milliseconds.
   * When a request's scope ends, its queued tasks are dropped and its running ones see
   * `cacheSignal()` abort in the worker: a task that stops by itself within this time settles
   * as it chooses and its worker is kept; one still running after it (a busy loop) has its
   * worker replaced, and its promise rejects with the scope's reason. A non-negative number,
   * or `Infinity` never to replace the worker.
   *
   * @default {300}
   */
  cancelGraceMs?: number;
}

/** Options of {@linkcode WorkerPool.run}. */
export interface RunOptions {
  /**
   * Cancels the task: a queued one is dropped at once; a running one has its worker stopped
   * and replaced (the only way to stop synchronous code). The promise rejects with the
   * signal's reason. The task's scope ending cancels it too (see the pool's `cancelGraceMs`).
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/**
 * What `pool.run` takes after the task's name: the array of the task's arguments, which may be
 * left out when the task takes none, then the options.
 *
 * @typeParam F The task function.
 */
export type RunArguments<F extends (...args: never[]) => unknown> = [] extends Parameters<F>
  ? [args?: Parameters<F>, options?: RunOptions]
  : [args: Parameters<F>, options?: RunOptions];

/** Options of {@linkcode WorkerPool.map}. */
export interface MapOptions {
  /**
   * How many items are queued or running at once. A positive integer, or `Infinity`.
   *
   * @default {the pool's size}
   */
  concurrency?: number;
  /**
   * Cancels every item still queued or running, as in {@linkcode RunOptions.signal}.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** What one worker holds, as it reports it. */
export interface WorkerStats {
  /** Scopes the worker holds a copy of (a scope ended on the main thread must not be here). */
  readonly scopes: number;
  /** Entries those scopes hold: the core's cached functions and shared copies. */
  readonly entries: number;
  /** Tasks the worker has run. */
  readonly tasks: number;
}

/** A snapshot of a pool, with each running worker's own report. */
export interface WorkerPoolStats {
  /** Workers the pool keeps. */
  readonly size: number;
  /** Tasks waiting for a worker. */
  readonly queued: number;
  /** Tasks running in a worker. */
  readonly running: number;
  /** Live scopes the pool has carried into workers. */
  readonly scopes: number;
  /** One report per started worker. */
  readonly workers: readonly WorkerStats[];
}

/**
 * Workers that run tasks inside the calling request's scope: made by
 * {@linkcode createWorkerPool} or {@linkcode spawnWorker}.
 *
 * @typeParam T The worker's tasks (`typeof tasks`, from the module that calls `serveTasks`).
 */
export interface WorkerPool<T extends TaskMap> extends AsyncDisposable {
  /** How many workers the pool keeps. */
  readonly size: number;
  /**
   * Runs one task in a worker, inside the current scope (if any), and resolves to what it
   * returned. Tasks wait in a queue when every worker is busy. When the current scope ends
   * first, a queued task is dropped and a running one is cancelled (see `cancelGraceMs`); its
   * promise then rejects with the scope's reason, unless the task settled by itself.
   *
   * @typeParam K The task's name.
   * @param task The name the worker's module gave the task in `serveTasks`.
   * @param rest The task's arguments as an array (each structured-cloneable; leave it out, or
   * pass `[]`, for a task that takes none), then the options: a signal to cancel the task.
   * @returns What the task returned (or its promise resolved to).
   * @throws {RangeError} (rejects) If the worker has no such task, or the queue is full.
   * @throws {TypeError} (rejects) If an argument or the result cannot be cloned, the scope's
   * context is not an object, or the pool is disposed.
   * @throws {WorkerCrashError} (rejects) If the worker died running it.
   */
  run<K extends keyof T & string>(
    task: K,
    ...rest: RunArguments<T[K]>
  ): Promise<Awaited<ReturnType<T[K]>>>;
  /**
   * Runs a one-argument task once per item, at most `concurrency` at a time, and resolves to
   * the results in the items' order. The first failure rejects it; items not yet started are
   * then not started.
   *
   * @typeParam K The task's name.
   * @param task The task's name.
   * @param items The argument of each call.
   * @param options How many at once, and a signal to cancel them all.
   * @returns The results, in the order of `items`.
   * @throws {RangeError} (rejects) If `concurrency` is not a positive integer or `Infinity`,
   * or as {@linkcode WorkerPool.run} does.
   */
  map<K extends keyof T & string>(
    task: K,
    items: Iterable<Parameters<T[K]>[0]>,
    options?: MapOptions,
  ): Promise<Awaited<ReturnType<T[K]>>[]>;
  /**
   * Asks every running worker what it holds (after the task it runs, if any).
   *
   * @returns The pool's counts and one report per running worker.
   */
  stats(): Promise<WorkerPoolStats>;
  /** Rejects queued and running tasks and terminates the workers; twice is a no-op. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of {@linkcode spawnWorker}. */
export interface SpawnWorkerOptions {
  /**
   * How many tasks may wait for the worker; one more rejects with a `RangeError`.
   *
   * @default {1024}
   */
  maxQueue?: number;
  /**
   * Picks what the worker gets to know about the request, as the pool option of that name.
   *
   * @default {`{ url, method }` of the scope's request when it has a string `url`, else undefined}
   */
  context?: (scope: CacheScope) => object | undefined;
}
