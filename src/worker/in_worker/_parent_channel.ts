/** Inside a worker: the channel to the thread that started it, and the exit announcement. */
import { loadWorkerThreads } from "../_worker_threads_module.ts";

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
