/**
 * The floor of the worker benchmarks (issue 5, item 6): a worker that posts every message
 * straight back, with no protocol. Its channel is found as the pool's workers find theirs:
 * `parentPort` where `node:worker_threads` gives one (Node, and Bun's Web Workers), else the
 * Web Worker's global scope (Deno).
 */
import process from "node:process";

interface Port {
  postMessage(message: unknown): void;
}

const threads = process.getBuiltinModule?.("node:worker_threads") as
  | typeof import("node:worker_threads")
  | undefined;
const parentPort = threads?.parentPort;
if (parentPort != null) {
  parentPort.on("message", (message: unknown) => parentPort.postMessage(message));
} else {
  const scope = globalThis as unknown as Port & {
    addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
  };
  scope.addEventListener("message", (event) => scope.postMessage(event.data));
}
