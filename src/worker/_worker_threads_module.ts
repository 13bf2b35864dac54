/**
 * `node:worker_threads`, the worker API of Node (which has no `Worker` global), also present in
 * Bun and Deno; used by both sides of a pool.
 *
 * It is loaded with `process.getBuiltinModule` when it is needed, never imported: importing
 * `@reqcache/core/worker` must succeed on a runtime without it (workerd), so that
 * `createWorkerPool` can fail there with a clear error instead.
 */

/** The part of `node:worker_threads` used here. */
export interface WorkerThreadsModule {
  Worker: new (url: URL) => NodeWorker;
  parentPort: NodePort | null;
  receiveMessageOnPort(port: MessagePort): { message: unknown } | undefined;
}

export interface NodePort {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  on(event: "message", listener: (data: unknown) => void): void;
}

export interface NodeWorker extends NodePort {
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
