/**
 * The pool behind {@linkcode createWorkerPool} and {@linkcode spawnWorker}: a queue of jobs,
 * the workers, and the scopes carried into them.
 */
import type {
  MapOptions,
  RunArguments,
  TaskMap,
  WorkerPool,
  WorkerPoolStats,
} from "../worker_pool_api.ts";
import { liveScope } from "../../core/_frame.ts";
import { type Job, type PoolScope, PoolWorker } from "./_pool_worker.ts";
import { mapInLanes } from "./_map_in_lanes.ts";
import { JobQueue } from "./_job_queue.ts";
import {
  noWorkersError,
  noWorkerStartedError,
  poolDisposedError,
  queueFullError,
  sharedWorkerStoppedError,
  taskFailedError,
  taskNotCloneableError,
  workerCrashedError,
  workerStartError,
} from "./_pool_errors.ts";
import { validMapOptions, type ValidOptions, validRunCall, validUrl } from "./_pool_options.ts";
import { CarriedScopes } from "./_carried_scopes.ts";
import { cancelScopeJobs } from "./_cancel_scope_jobs.ts";
import { receiveShared, releasePeer } from "./_shared_authority.ts";
import type { FromWorker } from "../_protocol.ts";
import { doneId, type DoneMessage, doneValue, isDoneMessage } from "../_task_message.ts";
import type { SerializedError } from "../_error_transfer.ts";
import { type StartThread, threadStarter } from "./_start_thread.ts";

export class Pool<T extends TaskMap> implements WorkerPool<T> {
  readonly size: number;
  #url: URL;
  #start: StartThread;
  #maxQueue: number;
  #cancelGraceMs: number;
  /** The workers; `undefined` marks a place whose worker failed to start (filled on `run`). */
  #workers: (PoolWorker | undefined)[];
  #queue: JobQueue = new JobQueue();
  #nextJob = 0;
  #scopes: CarriedScopes;
  /** For {@linkcode spawnWorker}: the scope every task runs in, whoever submits it. */
  #bound: PoolScope | undefined;
  #disposed = false;
  #stopping: Set<Promise<void>> = new Set();

  constructor(url: string | URL, options: ValidOptions, bound: PoolScope["state"] | undefined) {
    const action = bound === undefined ? "create a worker pool" : "spawn a worker";
    const start = threadStarter();
    if (start === undefined) throw noWorkersError(action);
    this.#start = start;
    this.#url = validUrl(url, action);
    this.size = options.size;
    this.#maxQueue = options.maxQueue;
    this.#cancelGraceMs = options.cancelGraceMs;
    this.#scopes = new CarriedScopes(options.context, this.#cancelScope);
    // A Worker that exists may still refuse to start: workerd's node:worker_threads has one that
    // throws "not implemented" when constructed, and Node's refuses a URL that is not file: or
    // data:. Only constructing tells, so the workers start here, and a throw fails the creation
    // with the runtime's error as the cause instead of failing each task later. The workers that
    // did start are stopped: nothing would ever dispose of them.
    const started: PoolWorker[] = [];
    try {
      while (started.length < this.size) started.push(this.#startWorker());
    } catch (cause) {
      const error = workerStartError(action, this.#url, cause);
      for (const worker of started) void worker.stop(error);
      throw error;
    }
    this.#workers = started;
    if (bound !== undefined) {
      this.#bound = this.#scopes.of(bound);
      bound.onEnd(() => void this[Symbol.asyncDispose]());
    }
  }

  run<K extends keyof T & string>(
    task: K,
    ...[args = [] as unknown[] as Parameters<T[K]>, options]: RunArguments<T[K]>
  ): Promise<Awaited<ReturnType<T[K]>>> {
    // Thrown inside the executor, every misuse becomes a rejection, as callers of an async
    // API expect.
    return new Promise((resolve, reject) => {
      const signal = validRunCall(task, args, options);
      if (this.#disposed) throw poolDisposedError(task, undefined);
      signal?.throwIfAborted();
      const full = this.#queue.length >= this.#maxQueue;
      if (full && !this.#workers.some((w) => w?.ready && w.job === undefined)) {
        throw queueFullError(task, this.#maxQueue);
      }
      const job: Job = {
        id: this.#nextJob++,
        task,
        args,
        scope: this.#callerScope(),
        signal,
        resolve: resolve as (value: unknown) => void,
        reject,
        onAbort: undefined,
        worker: undefined,
      };
      if (signal !== undefined) {
        job.onAbort = () => this.#abort(job);
        signal.addEventListener("abort", job.onAbort, { once: true });
      }
      this.#fillVacancies();
      this.#queue.push(job);
      this.#dispatch();
    });
  }

  async map<K extends keyof T & string>(
    task: K,
    items: Iterable<Parameters<T[K]>[0]>,
    options?: MapOptions,
  ): Promise<Awaited<ReturnType<T[K]>>[]> {
    const { concurrency, signal } = validMapOptions(options, task, this.size);
    return await mapInLanes(
      Array.from(items),
      concurrency,
      (item) => this.run(task, ...[[item], { signal }] as unknown as RunArguments<T[K]>),
    );
  }

  async stats(): Promise<WorkerPoolStats> {
    const live = this.#workers.filter((worker): worker is PoolWorker =>
      worker !== undefined && !worker.dead
    );
    const workers = await Promise.all(live.map((worker) => worker.stats()));
    return {
      size: this.size,
      queued: this.#queue.length,
      running: this.#workers.filter((worker) => worker?.job !== undefined).length,
      scopes: this.#scopes.size,
      workers,
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#disposed) {
      this.#disposed = true;
      for (const job of this.#queue.takeAll()) {
        this.#end(job).reject(poolDisposedError(job.task, false));
      }
      const reason = new Error("the worker pool was disposed");
      for (const worker of this.#workers) {
        if (worker === undefined) continue;
        const job = worker.job;
        this.#stop(worker, reason, false);
        job?.reject(poolDisposedError(job.task, true));
      }
      this.#scopes.clear();
    }
    await Promise.all(this.#stopping);
  }

  #startWorker(): PoolWorker {
    return new PoolWorker(this.#start, this.#url, this.#receive, this.#crashed);
  }

  /** Fills the places of workers that failed to start, now that there is work for them. */
  #fillVacancies(): void {
    for (let i = 0; i < this.#workers.length; i++) this.#workers[i] ??= this.#startWorker();
  }

  #callerScope(): PoolScope | undefined {
    if (this.#bound !== undefined) return this.#bound.state.ended ? undefined : this.#bound;
    const state = liveScope();
    return state === undefined ? undefined : this.#scopes.of(state);
  }

  #dispatch(): void {
    for (const worker of this.#workers) {
      while (
        this.#queue.length > 0 && worker !== undefined && worker.ready && !worker.dead &&
        worker.job === undefined
      ) {
        this.#assign(worker, this.#queue.shift()!);
      }
    }
  }

  #assign(worker: PoolWorker, job: Job): void {
    const scope = job.scope !== undefined && !job.scope.state.ended ? job.scope : undefined;
    const opens = scope !== undefined && !this.#scopes.isIn(worker, scope);
    try {
      worker.postTask(job, scope, opens);
    } catch (cause) {
      // Not sent, so not opened in the worker either: the scope's next task there carries it.
      this.#end(job).reject(taskNotCloneableError(job.task, job.args, cause));
      return;
    }
    if (opens) this.#scopes.carriedInto(worker, scope);
    worker.job = job;
    job.worker = worker;
  }

  /** The job leaves the pool: no longer running, and its abort listener is removed. */
  #end(job: Job): Job {
    if (job.worker !== undefined) {
      if (job.worker.job === job) job.worker.job = undefined;
      job.worker = undefined;
    }
    if (job.onAbort !== undefined) job.signal?.removeEventListener("abort", job.onAbort);
    if (job.grace !== undefined) clearTimeout(job.grace);
    return job;
  }

  /** A scope the pool carried ended: its jobs are cancelled (see _cancel_scope_jobs.ts). */
  #cancelScope = (scope: PoolScope): void =>
    cancelScopeJobs(scope, this.#queue, this.#workers, this.#cancelGraceMs, this.#cancelJob);
  /** A cancelled job leaves, rejected; `overdue` ran it past the grace: it is replaced. */
  #cancelJob = (job: Job, overdue?: PoolWorker, why?: Error): void => {
    if (overdue !== undefined) this.#stop(overdue, why as Error, true);
    this.#end(job).reject(job.scope?.state.endReason);
    this.#dispatch();
  };

  #receive = (worker: PoolWorker, data: FromWorker): void => {
    if (isDoneMessage(data)) return this.#answered(worker, doneId(data), doneValue(data));
    const message = data as Exclude<FromWorker, DoneMessage>;
    switch (message.type) {
      case "ready":
        worker.ready = true;
        return this.#dispatch();
      case "failed":
        return this.#answered(worker, message.id, undefined, message.error);
      case "shared":
        return receiveShared(worker, this.#scopes.live(message.scope), message);
      case "stats":
        return worker.receivedStats(message.id, message.stats);
      case "exit":
        return worker.announcedExit(message.code);
    }
  };

  /** The worker answered task `id`: its job leaves with the value, or with the `error`. */
  #answered(worker: PoolWorker, id: number, value: unknown, error?: SerializedError): void {
    const job = worker.job;
    if (job === undefined || job.id !== id) return;
    this.#end(job);
    if (error === undefined) job.resolve(value);
    else job.reject(taskFailedError(error, job.task));
    this.#dispatch();
  }

  #crashed = (worker: PoolWorker, error: Error): void => {
    const job = worker.job;
    const started = worker.ready;
    this.#stop(worker, error, started);
    job?.reject(workerCrashedError(job.task, error));
    // A worker that never started is not replaced at once (a broken module would crash in a
    // loop); when no worker is left to serve the queue, the queue gets the error.
    if (!started && this.#workers.every((place) => place === undefined)) {
      for (const queued of this.#queue.takeAll()) {
        this.#end(queued).reject(noWorkerStartedError(queued.task, this.#url, error));
      }
    }
    this.#dispatch();
  };

  #abort(job: Job): void {
    const worker = job.worker;
    if (worker !== undefined) {
      this.#stop(worker, new Error(`task ${JSON.stringify(job.task)} was aborted`), true);
    } else {
      if (!this.#queue.remove(job)) return;
    }
    this.#end(job).reject(job.signal?.reason);
    this.#dispatch();
  }

  /**
   * Stops a worker: its running job leaves the pool (the caller settles it), what it owned or
   * waited for among shared entries is released, and its place gets a fresh worker or, if
   * `replace` is false, stays empty.
   */
  #stop(worker: PoolWorker, reason: Error, replace: boolean): void {
    if (worker.job !== undefined) this.#end(worker.job);
    releasePeer(worker, sharedWorkerStoppedError(reason));
    this.#scopes.forget(worker);
    const stopping = worker.stop(reason);
    this.#stopping.add(stopping);
    stopping.finally(() => this.#stopping.delete(stopping));
    const place = this.#workers.indexOf(worker);
    if (place !== -1) {
      this.#workers[place] = replace && !this.#disposed ? this.#startWorker() : undefined;
    }
  }
}
