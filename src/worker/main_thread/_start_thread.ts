/**
 * Starts a worker thread on the main side, with one API over the two kinds of worker: the Web
 * `Worker` (Deno, Bun, browsers) and `node:worker_threads` (Node, which has no `Worker` global).
 *
 * Having `node:worker_threads` is not having workers: on workerd (`nodejs_compat`, or
 * `nodejs_als` from 2026-11-01) it has a `Worker` that throws "The Worker method is not
 * implemented" when constructed, so a starter below may throw synchronously, and the pool turns
 * that into its own error when it is created.
 */
import { loadWorkerThreads } from "../_worker_threads_module.ts";

/** What a started thread reports to its owner. */
export interface ThreadEvents {
  message(data: unknown): void;
  /** The thread died or can no longer be trusted; it is called at most once. */
  crash(error: Error): void;
}

/** The main side's handle on one worker thread. */
export interface WorkerThread {
  post(message: unknown, transfer?: Transferable[]): void;
  /** Stops the thread; no event is reported after this. */
  terminate(): Promise<void>;
}

/**
 * Starts a thread running the module at a URL. It throws if the runtime refuses to construct
 * the worker (a stub `Worker`, or a URL it does not load); a module that fails to load is
 * reported later, as a crash.
 */
export type StartThread = (url: URL, events: ThreadEvents) => WorkerThread;

/**
 * How this runtime starts a worker thread, checked once when a pool is created; `undefined` if
 * it has no `Worker` at all. A starter returned here may still throw (see {@linkcode StartThread}).
 */
export function threadStarter(): StartThread | undefined {
  if (typeof globalThis.Worker === "function") return startWebWorker;
  return loadWorkerThreads() === undefined ? undefined : startNodeWorker;
}

function startWebWorker(url: URL, events: ThreadEvents): WorkerThread {
  const worker = new Worker(url, { type: "module" });
  const { message, crash, stop } = untilStopped(events, () => worker.terminate());
  worker.addEventListener("message", (event) => message(event.data));
  worker.addEventListener("error", (event) => {
    // Without this, Deno rethrows the worker's uncaught error in the main thread.
    event.preventDefault();
    crash(event.error instanceof Error ? event.error : new Error(event.message));
  });
  worker.addEventListener("messageerror", () => {
    crash(new Error("a message from the worker could not be deserialized"));
  });
  // Bun reports a Web Worker that ended itself with a "close" event and its exit code; Deno
  // reports nothing, so the worker also says so itself before it goes (see announceExit).
  worker.addEventListener("close", (event) => {
    crash(new Error(`the worker exited with code ${(event as Event & { code?: number }).code}`));
  });
  return {
    post: (message, transfer) => worker.postMessage(message, transfer ?? []),
    terminate: () => {
      stop();
      worker.terminate();
      return Promise.resolve();
    },
  };
}

function startNodeWorker(url: URL, events: ThreadEvents): WorkerThread {
  const threads = loadWorkerThreads();
  if (threads === undefined) {
    throw new TypeError("Cannot start a worker: node:worker_threads is gone");
  }
  const worker = new threads.Worker(url);
  const { message, crash, stop } = untilStopped(events, () => worker.terminate());
  worker.on("message", message);
  worker.on("error", (error) => crash(error instanceof Error ? error : new Error(String(error))));
  worker.on("exit", (code) => crash(new Error(`the worker exited with code ${code}`)));
  return {
    post: (message, transfer) => worker.postMessage(message, transfer),
    terminate: async () => {
      stop();
      await worker.terminate();
    },
  };
}

/**
 * A thread's events as its owner gets them: nothing after the owner stopped it or after its
 * first crash, and a crash terminates the thread, so the owner hears of it once.
 */
function untilStopped(events: ThreadEvents, terminate: () => unknown): {
  message(data: unknown): void;
  crash(error: Error): void;
  stop(): void;
} {
  let stopped = false;
  return {
    message: (data) => {
      if (!stopped) events.message(data);
    },
    crash: (error) => {
      if (stopped) return;
      stopped = true;
      terminate();
      events.crash(error);
    },
    stop: () => {
      stopped = true;
    },
  };
}
