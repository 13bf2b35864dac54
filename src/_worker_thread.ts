/**
 * One API over the two kinds of worker: the Web `Worker` (Deno, Bun, browsers) and
 * `node:worker_threads` (Node, which has no `Worker` global). Both ends are here: the main side
 * starts a thread, the worker side finds its channel to the parent.
 *
 * `node:worker_threads` is loaded with `process.getBuiltinModule` when it is needed, never
 * imported: importing `@reqcache/core/worker` must succeed on a runtime without it (workerd),
 * so that `createWorkerPool` can fail there with a clear error instead. Having the module is not
 * having workers: on workerd (`nodejs_compat`, or `nodejs_als` from 2026-11-01) it has a `Worker`
 * that throws "The Worker method is not implemented" when constructed, so a starter below may
 * throw synchronously, and the pool turns that into its own error when it is created.
 */

/** The part of `node:worker_threads` used here. */
interface WorkerThreadsModule {
  Worker: new (url: URL) => NodeWorker;
  parentPort: NodePort | null;
  receiveMessageOnPort(port: MessagePort): { message: unknown } | undefined;
}

interface NodePort {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  on(event: "message", listener: (data: unknown) => void): void;
}

interface NodeWorker extends NodePort {
  on(event: "message", listener: (data: unknown) => void): void;
  on(event: "error", listener: (error: unknown) => void): void;
  on(event: "exit", listener: (code: number) => void): void;
  terminate(): Promise<number>;
}

/**
 * `node:worker_threads`, or `undefined` on a runtime without it. Not cached: it is looked up
 * once per pool and once per worker, and a test can then hide it.
 */
export function loadWorkerThreads(): WorkerThreadsModule | undefined {
  const process = (globalThis as {
    process?: { getBuiltinModule?: (name: string) => unknown };
  }).process;
  try {
    const loaded = process?.getBuiltinModule?.("node:worker_threads") as
      | WorkerThreadsModule
      | undefined;
    return typeof loaded?.Worker === "function" ? loaded : undefined;
  } catch {
    // A runtime that lists the module but cannot provide it: the same as not having it.
    return undefined;
  }
}

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
  let stopped = false;
  const crash = (error: Error) => {
    if (stopped) return;
    stopped = true;
    worker.terminate();
    events.crash(error);
  };
  worker.addEventListener("message", (event) => {
    if (!stopped) events.message(event.data);
  });
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
      stopped = true;
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
  let stopped = false;
  const crash = (error: Error) => {
    if (stopped) return;
    stopped = true;
    worker.terminate();
    events.crash(error);
  };
  worker.on("message", (data) => {
    if (!stopped) events.message(data);
  });
  worker.on("error", (error) => crash(error instanceof Error ? error : new Error(String(error))));
  worker.on("exit", (code) => crash(new Error(`the worker exited with code ${code}`)));
  return {
    post: (message, transfer) => worker.postMessage(message, transfer),
    terminate: async () => {
      stopped = true;
      await worker.terminate();
    },
  };
}

/** The worker side's channel to the thread that started it. */
export interface ParentChannel {
  post(message: unknown): void;
  listen(listener: (data: unknown) => void): void;
}

/**
 * The channel to the parent, or `undefined` on the main thread. `parentPort` comes first: Node
 * has nothing else, and Bun sets it in Web Workers too. Deno's Web Workers have only the global
 * scope's `postMessage`, and `WorkerGlobalScope` tells them from the main thread.
 */
export function parentChannel(): ParentChannel | undefined {
  const port = loadWorkerThreads()?.parentPort;
  if (port != null) {
    return {
      post: (message) => port.postMessage(message),
      listen: (listener) => port.on("message", listener),
    };
  }
  const scope = globalThis as unknown as {
    WorkerGlobalScope?: unknown;
    postMessage(message: unknown): void;
    addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
  };
  if (scope.WorkerGlobalScope === undefined) return undefined;
  return {
    post: (message) => scope.postMessage(message),
    listen: (listener) => scope.addEventListener("message", (event) => listener(event.data)),
  };
}

/**
 * Makes the worker tell its pool before it ends itself with `process.exit()`, `Deno.exit()` or
 * `close()`. Node and Bun report the exit to the main thread, but Deno reports no event at all
 * when a Web Worker exits: without this message a task that exits its worker would never settle,
 * and the pool would keep the dead worker's place busy for ever. A message posted before the
 * exit is delivered (Deno 2.9, Bun 1.4, Node 24).
 */
export function announceExit(post: (message: { type: "exit"; code: number }) => void): void {
  const global = globalThis as unknown as {
    Deno?: Record<string, unknown>;
    process?: Record<string, unknown>;
    close?: unknown;
  };
  const hook = (owner: Record<string, unknown> | undefined, name: string, fixed?: number) => {
    const original = owner?.[name];
    if (owner === undefined || typeof original !== "function" || Object.isFrozen(owner)) return;
    owner[name] = function exitAnnounced(this: unknown, code?: unknown): unknown {
      try {
        post({ type: "exit", code: fixed ?? (typeof code === "number" ? code : 0) });
      } catch {
        // The channel is gone already: nothing more to tell.
      }
      return (original as (...args: unknown[]) => unknown).apply(this, arguments as never);
    };
  };
  hook(global.process, "exit");
  hook(global.Deno, "exit");
  hook(global as Record<string, unknown>, "close", 0);
}
