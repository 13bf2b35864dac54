/**
 * The pool behind {@linkcode createWorkerPool} and {@linkcode spawnWorker}: a queue of jobs,
 * the workers, and the scopes carried into them.
 */
import { reviveError } from "./_error_transfer.ts";
import { storage } from "./_frame.ts";
import { type Job, type PoolScope, Slot } from "./_pool_slot.ts";
import { describe } from "./_request_identity.ts";
import type { ScopeState } from "./_scope_state.ts";
import { entriesOf, lookup, releasePeer, reportPending, reportSettled } from "./_shared_entries.ts";
import { type FromWorker, nameOfEntry } from "./_worker_protocol.ts";
import { type StartThread, threadStarter } from "./_worker_thread.ts";
import type { CacheScope } from "./cache_scope.ts";
import type { TaskMap } from "./serve_tasks.ts";
import { WorkerCrashError } from "./worker_crash_error.ts";
import type {
  MapOptions,
  RunOptions,
  WorkerPool,
  WorkerPoolOptions,
  WorkerPoolStats,
} from "./worker_pool.ts";

/** How long a worker's own "exit" message waits for the runtime's exit or error event. */
const EXIT_GRACE_MS = 50;

const optionNames = ["size", "maxQueue", "context"];

export interface ValidOptions {
  size: number;
  maxQueue: number;
  context: (scope: CacheScope) => object | undefined;
}

export class Pool<T extends TaskMap> implements WorkerPool<T> {
  readonly size: number;
  #url: URL;
  #start: StartThread;
  #maxQueue: number;
  #context: (scope: CacheScope) => object | undefined;
  /** The workers; `undefined` marks a place whose worker failed to start (filled on `run`). */
  #slots: (Slot | undefined)[];
  #queue: Job[] = [];
  #running = 0;
  #nextJob = 0;
  /** Live scopes carried into workers, by id; each removes itself when it ends. */
  #scopes: Map<string, PoolScope> = new Map();
  /** For {@linkcode spawnWorker}: the scope every task runs in, whoever submits it. */
  #bound: PoolScope | undefined;
  #disposed = false;
  #stopping: Set<Promise<void>> = new Set();

  constructor(url: string | URL, options: ValidOptions, bound: ScopeState | undefined) {
    const action = bound === undefined ? "create a worker pool" : "spawn a worker";
    const start = threadStarter();
    if (start === undefined) {
      throw new TypeError(
        `Cannot ${action}: this runtime has no workers (no Worker global and no node:worker_threads); run the work in the request instead`,
      );
    }
    this.#start = start;
    this.#url = validUrl(url, action);
    this.size = options.size;
    this.#maxQueue = options.maxQueue;
    this.#context = options.context;
    // A Worker that exists may still refuse to start: workerd's node:worker_threads has one that
    // throws "not implemented" when constructed, and Node's refuses a URL that is not file: or
    // data:. Only constructing tells, so the workers start here, and a throw fails the creation
    // with the runtime's error as the cause instead of failing each task later. The workers that
    // did start are stopped: nothing would ever dispose of them.
    const started: Slot[] = [];
    try {
      while (started.length < this.size) started.push(this.#startSlot());
    } catch (cause) {
      const reason = cause instanceof Error ? cause : new Error(String(cause));
      for (const slot of started) void slot.stop(reason);
      throw new TypeError(
        `Cannot ${action}: this runtime could not start a worker from ${this.#url} (${reason.message}); if it has no workers (workerd), run the work in the request instead`,
        { cause },
      );
    }
    this.#slots = started;
    if (bound !== undefined) {
      this.#bound = this.#scopeOf(bound);
      bound.onEnd(() => void this[Symbol.asyncDispose]());
    }
  }

  run<K extends keyof T & string>(
    task: K,
    args: Parameters<T[K]>,
    options?: RunOptions,
  ): Promise<Awaited<ReturnType<T[K]>>> {
    // Thrown inside the executor, every misuse becomes a rejection, as callers of an async
    // API expect.
    return new Promise((resolve, reject) => {
      if (typeof task !== "string") {
        throw new TypeError(
          `Cannot run a task: task must be a task's name, received ${describe(task)}`,
        );
      }
      if (!Array.isArray(args)) {
        throw new TypeError(
          `Cannot run task ${
            JSON.stringify(task)
          }: args must be the array of its arguments, received ${describe(args)}`,
        );
      }
      const signal = validSignal(options, task);
      if (this.#disposed) {
        throw new TypeError(`Cannot run task ${JSON.stringify(task)}: the worker pool is disposed`);
      }
      signal?.throwIfAborted();
      const idle = this.#slots.some((slot) => slot?.ready && slot.job === undefined);
      if (!idle && this.#queue.length >= this.#maxQueue) {
        throw new RangeError(
          `Cannot queue task ${
            JSON.stringify(task)
          }: ${this.#queue.length} tasks are waiting already (maxQueue); await some of them or raise maxQueue`,
        );
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
        slot: undefined,
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
    const list = Array.from(items);
    const results: Awaited<ReturnType<T[K]>>[] = new Array(list.length);
    let next = 0;
    let failed = false;
    // Lanes keep at most `concurrency` items in the pool, so a long map never fills the queue
    // and other requests' tasks interleave with it. After a failure, lanes stop taking items;
    // the items already running finish and are ignored.
    const lane = async () => {
      while (!failed && next < list.length) {
        const i = next++;
        try {
          results[i] = await this.run(task, [list[i]] as Parameters<T[K]>, { signal });
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, lane));
    return results;
  }

  async stats(): Promise<WorkerPoolStats> {
    const live = this.#slots.filter((slot): slot is Slot => slot !== undefined && !slot.dead);
    const workers = await Promise.all(live.map((slot) => slot.stats()));
    return {
      size: this.size,
      queued: this.#queue.length,
      running: this.#running,
      scopes: this.#scopes.size,
      workers,
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#disposed) {
      this.#disposed = true;
      for (const job of this.#queue.splice(0)) {
        this.#end(job).reject(
          new TypeError(
            `Cannot run task ${
              JSON.stringify(job.task)
            }: the worker pool was disposed before the task started`,
          ),
        );
      }
      const reason = new Error("the worker pool was disposed");
      for (const slot of this.#slots) {
        if (slot === undefined) continue;
        const job = slot.job;
        this.#stop(slot, reason, false);
        job?.reject(
          new TypeError(
            `Cannot finish task ${
              JSON.stringify(job.task)
            }: the worker pool was disposed while the task ran`,
          ),
        );
      }
      this.#scopes.clear();
    }
    await Promise.all(this.#stopping);
  }

  #startSlot(): Slot {
    return new Slot(this.#start, this.#url, this.#receive, this.#crashed);
  }

  /** Fills the places of workers that failed to start, now that there is work for them. */
  #fillVacancies(): void {
    for (let i = 0; i < this.#slots.length; i++) this.#slots[i] ??= this.#startSlot();
  }

  #callerScope(): PoolScope | undefined {
    if (this.#bound !== undefined) return this.#bound.state.ended ? undefined : this.#bound;
    const state = storage.getStore()?.current;
    return state === undefined || state.ended ? undefined : this.#scopeOf(state);
  }

  /** The pool's record of a live scope, made (with its context) the first time. */
  #scopeOf(state: ScopeState): PoolScope {
    const known = this.#scopes.get(state.id);
    if (known !== undefined) return known;
    const context = this.#context(state.handle);
    if (context !== undefined && (typeof context !== "object" || context === null)) {
      throw new TypeError(
        `Cannot carry cache scope ${state.id} into a worker: context must return an object or undefined, received ${
          describe(context)
        }`,
      );
    }
    try {
      structuredClone(context);
    } catch (cause) {
      throw new TypeError(
        `Cannot carry cache scope ${state.id} into a worker: its context is not structured-cloneable (${
          (cause as Error).message
        })`,
        { cause },
      );
    }
    const scope: PoolScope = { id: state.id, state, context, workers: new Set() };
    this.#scopes.set(state.id, scope);
    state.onEnd(() => this.#endScope(scope));
    return scope;
  }

  #endScope(scope: PoolScope): void {
    this.#scopes.delete(scope.id);
    for (const slot of scope.workers) {
      slot.scopes.delete(scope.id);
      slot.post({ type: "end", scope: scope.id });
    }
    scope.workers.clear();
  }

  #dispatch(): void {
    for (const slot of this.#slots) {
      while (
        this.#queue.length > 0 && slot !== undefined && slot.ready && !slot.dead &&
        slot.job === undefined
      ) {
        this.#assign(slot, this.#queue.shift() as Job);
      }
    }
  }

  #assign(slot: Slot, job: Job): void {
    const scope = job.scope !== undefined && !job.scope.state.ended ? job.scope : undefined;
    if (scope !== undefined && !slot.scopes.has(scope.id)) {
      slot.post({ type: "open", scope: scope.id, context: scope.context });
      slot.scopes.add(scope.id);
      scope.workers.add(slot);
    }
    try {
      slot.post({ type: "task", id: job.id, task: job.task, args: job.args, scope: scope?.id });
    } catch (cause) {
      this.#end(job).reject(cloneError(job, cause));
      return;
    }
    slot.job = job;
    job.slot = slot;
    this.#running++;
  }

  /** The job leaves the pool: no longer running, and its abort listener is removed. */
  #end(job: Job): Job {
    if (job.slot !== undefined) {
      if (job.slot.job === job) job.slot.job = undefined;
      job.slot = undefined;
      this.#running--;
    }
    if (job.onAbort !== undefined) job.signal?.removeEventListener("abort", job.onAbort);
    return job;
  }

  #receive = (slot: Slot, message: FromWorker): void => {
    switch (message.type) {
      case "ready":
        slot.ready = true;
        return this.#dispatch();
      case "done":
      case "failed": {
        const job = slot.job;
        if (job === undefined || job.id !== message.id) return;
        this.#end(job);
        if (message.type === "done") job.resolve(message.value);
        else {
          job.reject(
            reviveError(message.error, `task ${JSON.stringify(job.task)} in a worker of the pool`),
          );
        }
        return this.#dispatch();
      }
      case "lookup": {
        const known = this.#scopes.get(message.scope);
        const table = known === undefined || known.state.ended ? undefined : entriesOf(known.state);
        const answer = lookup(table, message.entry, slot);
        if (answer !== undefined) slot.answer(answer, nameOfEntry(message.entry));
        return;
      }
      case "pending":
        return reportPending(slot, message.scope, message.entry);
      case "settle":
        return reportSettled(slot, message.scope, message.entry, message.outcome);
      case "stats":
        return slot.receivedStats(message.id, message.stats);
      case "exit":
        // Node and Bun also report the exit as an event, and theirs says more (an uncaught
        // error's message): it comes within a few milliseconds, so it gets that long to win.
        // Deno reports nothing, and then this message is the only word of the exit.
        setTimeout(() => {
          if (!slot.dead) {
            this.#crashed(slot, new Error(`the worker exited with code ${message.code}`));
          }
        }, EXIT_GRACE_MS);
        return;
    }
  };

  #crashed = (slot: Slot, error: Error): void => {
    const job = slot.job;
    const started = slot.ready;
    this.#stop(slot, error, started);
    job?.reject(
      new WorkerCrashError(
        job.task,
        `Cannot finish task ${JSON.stringify(job.task)}: its worker crashed (${error.message})`,
        { cause: error },
      ),
    );
    // A worker that never started is not replaced at once (a broken module would crash in a
    // loop); when no worker is left to serve the queue, the queue gets the error.
    if (!started && this.#slots.every((place) => place === undefined)) {
      for (const queued of this.#queue.splice(0)) {
        this.#end(queued).reject(
          new WorkerCrashError(
            queued.task,
            `Cannot run task ${
              JSON.stringify(queued.task)
            }: no worker could start from ${this.#url} (${error.message})`,
            { cause: error },
          ),
        );
      }
    }
    this.#dispatch();
  };

  #abort(job: Job): void {
    const slot = job.slot;
    if (slot !== undefined) {
      this.#stop(slot, new Error(`task ${JSON.stringify(job.task)} was aborted`), true);
    } else {
      const queued = this.#queue.indexOf(job);
      if (queued === -1) return;
      this.#queue.splice(queued, 1);
    }
    this.#end(job).reject(job.signal?.reason);
    this.#dispatch();
  }

  /**
   * Stops a worker: its running job leaves the pool (the caller settles it), what it owned or
   * waited for among shared entries is released, and its place gets a fresh worker or, if
   * `replace` is false, stays empty.
   */
  #stop(slot: Slot, reason: Error, replace: boolean): void {
    if (slot.job !== undefined) this.#end(slot.job);
    releasePeer(
      slot,
      new Error(
        `Cannot finish a shared computation: the worker running it stopped (${reason.message})`,
      ),
    );
    for (const id of slot.scopes) this.#scopes.get(id)?.workers.delete(slot);
    const stopping = slot.stop(reason);
    this.#stopping.add(stopping);
    stopping.finally(() => this.#stopping.delete(stopping));
    const place = this.#slots.indexOf(slot);
    if (place !== -1) {
      this.#slots[place] = replace && !this.#disposed ? this.#startSlot() : undefined;
    }
  }
}

function cloneError(job: Job, cause: unknown): TypeError {
  const bad = job.args.findIndex((arg) => {
    try {
      structuredClone(arg);
      return false;
    } catch {
      return true;
    }
  });
  const what = bad === -1 ? "its arguments are" : `argument ${bad + 1} is`;
  return new TypeError(
    `Cannot run task ${JSON.stringify(job.task)}: ${what} not structured-cloneable (${
      (cause as Error).message
    })`,
    { cause },
  );
}

function validUrl(url: string | URL, action: string): URL {
  if (url instanceof URL) return url;
  if (typeof url === "string" && URL.canParse(url)) return new URL(url);
  throw new TypeError(
    `Cannot ${action}: url must be a URL or an absolute URL string, such as new URL("./tasks.ts", import.meta.url), received ${
      describe(url)
    }`,
  );
}

function defaultContext(scope: CacheScope): object | undefined {
  const request = scope.request as { url?: unknown; method?: unknown } | undefined;
  if (request === undefined || typeof request.url !== "string") return undefined;
  return typeof request.method === "string"
    ? { url: request.url, method: request.method }
    : { url: request.url };
}

/** Checks a pool's options once, up front; `action` says which call got them. */
export function getValidOptions(
  options: WorkerPoolOptions | undefined,
  action: string,
): ValidOptions {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new TypeError(
      `Cannot ${action}: options must be an object, received ${describe(options)}`,
    );
  }
  for (const option of Object.keys(options ?? {})) {
    if (!optionNames.includes(option)) {
      throw new TypeError(
        `Cannot ${action}: unknown option ${JSON.stringify(option)}; the options are ${
          optionNames.join(", ")
        }`,
      );
    }
  }
  const hardware = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
    ?.hardwareConcurrency;
  const {
    size = typeof hardware === "number" && hardware > 0 ? hardware : 4,
    maxQueue = 1024,
    context = defaultContext,
  } = options ?? {};
  if (typeof size !== "number" || !Number.isInteger(size) || size < 1) {
    const error = typeof size === "number" ? RangeError : TypeError;
    throw new error(
      `Cannot ${action}: size must be a positive integer, received ${describe(size)}`,
    );
  }
  if (
    typeof maxQueue !== "number" ||
    !(maxQueue === Infinity || (Number.isInteger(maxQueue) && maxQueue >= 0))
  ) {
    const error = typeof maxQueue === "number" ? RangeError : TypeError;
    throw new error(
      `Cannot ${action}: maxQueue must be a non-negative integer or Infinity, received ${
        describe(maxQueue)
      }`,
    );
  }
  if (typeof context !== "function") {
    throw new TypeError(
      `Cannot ${action}: context must be a function of the scope, received ${describe(context)}`,
    );
  }
  return { size, maxQueue, context };
}

function validSignal(options: RunOptions | undefined, task: string): AbortSignal | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot run task ${JSON.stringify(task)}: options must be an object, received ${
        describe(options)
      }`,
    );
  }
  const { signal } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(
      `Cannot run task ${JSON.stringify(task)}: signal must be an AbortSignal, received ${
        describe(signal)
      }`,
    );
  }
  return signal;
}

function validMapOptions(
  options: MapOptions | undefined,
  task: string,
  size: number,
): { concurrency: number; signal: AbortSignal | undefined } {
  const signal = validSignal(options, task);
  const concurrency = options?.concurrency ?? size;
  if (
    typeof concurrency !== "number" ||
    !(concurrency === Infinity || (Number.isInteger(concurrency) && concurrency > 0))
  ) {
    const error = typeof concurrency === "number" ? RangeError : TypeError;
    throw new error(
      `Cannot map task ${
        JSON.stringify(task)
      }: concurrency must be a positive integer or Infinity, received ${describe(concurrency)}`,
    );
  }
  return { concurrency, signal };
}
