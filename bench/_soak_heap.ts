/**
 * What both soak scripts print and measure: the runtime's name, and the heap after full
 * collections (the soak scripts run with `--expose-gc` on V8, `Bun.gc` on Bun).
 */
const bun = (globalThis as { Bun?: { gc(force: boolean): void; version: string } }).Bun;
const deno = (globalThis as { Deno?: { version: { deno: string } } }).Deno;
const exposedGc = (globalThis as { gc?: () => void }).gc;

/** "Deno 2.9.6", "Bun 1.4.4" or "Node 24.21.0". */
export const runtime: string = bun !== undefined
  ? `Bun ${bun.version}`
  : deno !== undefined
  ? `Deno ${deno.version.deno}`
  : `Node ${process.versions.node}`;

function gc(): void {
  if (bun !== undefined) bun.gc(true);
  else if (exposedGc !== undefined) exposedGc();
  else throw new Error("Cannot collect garbage: run with --expose-gc (see the comment at the top)");
}

/** The heap used after three full collections, a macrotask apart. */
export async function collect(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
  }
  return process.memoryUsage().heapUsed;
}

/** Bytes as MiB with one decimal. */
export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
