/**
 * Garbage collection and heap size for memory tests, on Deno, Bun and Node, without changing how
 * the test runners are started (`deno test -P`, `bun test`, `node --test` pass no GC flag).
 *
 * - Bun has `Bun.gc(true)`, a synchronous full collection.
 * - V8 (Deno, Node) has `gc` only with `--expose-gc`. When the runner did not pass it, the flag is
 *   set at run time through `node:v8` and the function is read from a new `node:vm` context,
 *   where V8 installs it for contexts made after the flag is set. Both runtimes support this.
 */
import v8 from "node:v8";
import vm from "node:vm";

const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;

function findGc(): (() => void) | undefined {
  if (bun !== undefined) return () => bun.gc(true);
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === "function") return exposed;
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc");
    return typeof gc === "function" ? gc : undefined;
  } catch {
    return undefined;
  }
}

const gc = findGc();

/** Whether {@linkcode collectGarbage} really collects on this runtime. */
export const canCollectGarbage: boolean = gc !== undefined;

/**
 * Runs full collections until the heap stops shrinking, letting a macrotask pass around each one
 * so that `WeakRef` targets read in the current job are released and finalizers can run.
 */
export async function collectGarbage(): Promise<void> {
  if (gc === undefined) return;
  let previous = Infinity;
  for (let round = 0; round < 6; round++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    const now = heapUsed();
    if (previous - now < 64 * 1024) break;
    previous = now;
  }
  await new Promise((resolve) => setTimeout(resolve, 0));
}

/** Bytes of JavaScript heap in use (V8's `heapUsed`; on Bun, JavaScriptCore's heap size). */
export function heapUsed(): number {
  return process.memoryUsage().heapUsed;
}

/** `bytes` in MiB, with one decimal, for messages. */
export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
