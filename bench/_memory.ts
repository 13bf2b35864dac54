/**
 * Issue 5, item 7: a scope must leave nothing behind. The heap after a million scopes, opened
 * and disposed with 10 cached entries each, is compared with the heap before them, all read
 * after full garbage collections.
 *
 * The entries cover every way a scope holds memory: a lone argument as its own key, two
 * arguments interned in the key trie (and in the `WeakSet` of call keys), and a promise that
 * is watched for rejection. The scopes are opened outside any store, the `enterWith` path,
 * which is the one that swaps the async context's store and must give it back.
 *
 * A leak grows the heap in proportion to the scopes, one-off growth does not (optimized code,
 * tables a runtime sizes up once: Deno's own `enterWith` adds about 2 MiB over its first
 * million calls, then nothing). So the floor, a hand-written `enterWith` cache, runs the same
 * count first, the heap is read half way through ours too, and the verdict is on the second half.
 */
import assert from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import process from "node:process";
import { currentScope, openCacheScope, perRequestCache } from "../mod.ts";
import type { Check, Section } from "./_section.ts";

const MiB = 1024 * 1024;
/**
 * Growth allowed over the second half of the scopes: 2 bytes per scope for a million, where
 * leaking the smallest object per scope costs 16 bytes or more.
 */
const maxLateGrowthMiB = 1;

const byId = perRequestCache((id: number) => ({ id }));
const byNameAndId = perRequestCache((name: string, id: number) => ({ name, id }));
const asyncById = perRequestCache(async (id: number) => ({ id }));

function openScope(): void {
  const scope = openCacheScope({ url: "/" });
  for (let i = 0; i < 4; i++) byId(i);
  for (let i = 0; i < 3; i++) byNameAndId("user", i);
  for (let i = 0; i < 3; i++) asyncById(i);
  scope[Symbol.dispose]();
}

const floor = new AsyncLocalStorage<Map<unknown, unknown> | undefined>();
function enterFloorStore(): void {
  const before = floor.getStore();
  const store = new Map<unknown, unknown>();
  floor.enterWith(store);
  for (let i = 0; i < 10; i++) store.set(i, { id: i });
  floor.enterWith(before);
}

/** Runs `count` times `open`; yields to the event loop every 10,000, as between requests. */
async function repeat(open: () => void, count: number): Promise<void> {
  for (let done = 0; done < count;) {
    const chunkEnd = Math.min(count, done + 10_000);
    for (; done < chunkEnd; done++) open();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

/** The runtime's way to force a full collection, if it exposes one to this process. */
function findFullGc(): (() => void) | undefined {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun !== undefined) return () => bun.gc(true);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc === "function") return () => gc();
  return undefined;
}

/**
 * The heap once full collections stop shrinking it (at most 10 of them, a turn of the event
 * loop apart): finalizers, weak-collection cleanup and the flushing of unused compiled code
 * each free more on a later pass, and that noise must not read as a leak or as a gain.
 */
async function heapAfterGc(gc: () => void): Promise<number> {
  let heap = Infinity;
  for (let pass = 0; pass < 10; pass++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 1));
    const used = process.memoryUsage().heapUsed;
    if (used > heap - 64 * 1024) return Math.min(used, heap);
    heap = used;
  }
  return heap;
}

/** The memory check of issue 5, item 7, over `scopes` scopes. */
export function memorySection(scopes = 1_000_000): Section {
  return {
    title: `Memory (item 7): ${scopes.toLocaleString("en-US")} scopes × 10 entries`,

    async measure() {
      const gc = findFullGc();
      const heap = () => gc === undefined ? process.memoryUsage().heapUsed : heapAfterGc(gc);
      await repeat(enterFloorStore, 10_000);
      await repeat(openScope, 10_000);
      const start = await heap();
      const floorStart = performance.now();
      await repeat(enterFloorStore, scopes);
      const floorNs = (performance.now() - floorStart) * 1e6 / scopes;
      const before = await heap();
      const oursStart = performance.now();
      await repeat(openScope, scopes / 2);
      let oursMs = performance.now() - oursStart;
      const halfway = await heap();
      const resume = performance.now();
      await repeat(openScope, scopes / 2);
      oursMs += performance.now() - resume;
      const after = await heap();
      const oursNs = oursMs * 1e6 / scopes;
      const late = after - halfway;
      const growth = (name: string, bytes: number, count: number): Check => ({
        name,
        value: `${bytes >= 0 ? "+" : ""}${(bytes / MiB).toFixed(2)} MiB`,
        target: "—",
        pass: undefined,
        detail: `${(bytes / count).toFixed(2)} bytes per scope`,
      });
      return {
        rows: [
          {
            name: "floor: enterWith a Map + 10 set + restore",
            ns: floorNs,
            spread: [floorNs, floorNs],
          },
          { name: "scope: open + 10 misses + dispose", ns: oursNs, spread: [oursNs, oursNs] },
        ],
        checks: [
          growth("heap growth over the floor's loop", before - start, scopes),
          growth("heap growth over our scopes", after - before, scopes),
          {
            ...growth("  of which over the second half (leak check)", late, scopes / 2),
            target: `≤ ${maxLateGrowthMiB} MiB`,
            pass: gc === undefined ? undefined : late / MiB <= maxLateGrowthMiB,
          },
        ],
        notes: [
          `heap used after GC (MiB): ${
            [start, before, halfway, after].map((bytes) => (bytes / MiB).toFixed(2)).join(" → ")
          } (start, after the floor, half way, end)`,
          ...(gc === undefined
            ? [
              "No full-GC hook in this process, so these figures include garbage and nothing is " +
              "checked: run Node with --expose-gc and Deno with --v8-flags=--expose-gc (Bun has Bun.gc).",
            ]
            : []),
        ],
      };
    },

    async smoke() {
      await repeat(enterFloorStore, 100);
      await repeat(openScope, 100);
      assert.equal(currentScope(), undefined);
      assert.equal(floor.getStore(), undefined);
      const gc = findFullGc();
      if (gc !== undefined) assert.ok(await heapAfterGc(gc) > 0);
    },
  };
}
