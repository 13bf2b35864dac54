/**
 * The blocking lookup of a synchronous shared function cannot deadlock: two workers that each
 * own an entry and ask for the other's, where each computation needs the other (a cycle across
 * threads), both end with the cycle's `RangeError`, as in one thread. On a real pool of 2
 * workers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runInCacheScope } from "../../mod.ts";
import { onBothWorkers, sharedPool } from "./fixtures/shared_pool.ts";

const pool = sharedPool();

/** Rejects after 30 s instead of letting a deadlock stall the run. */
async function within<T>(work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("still waiting after 30 s: a deadlock")), 30_000);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

test("a cycle across two workers ends with the cycle's RangeError on both, not a deadlock", async () => {
  const flags = new Int32Array(new SharedArrayBuffer(8));
  await runInCacheScope({ url: "/cycle" }, async () => {
    let turn = 0;
    const results = await within(onBothWorkers(
      pool,
      () => pool.run("cycle", [turn++ === 0 ? "ping" : "pong", 1, flags]),
    ));
    for (const result of results) {
      assert.equal((result as { name?: string }).name, "RangeError");
      assert.match(
        (result as { message: string }).message,
        /^Cannot call contract:p[io]ng: it called itself with the same arguments before returning/,
      );
    }
  });
});

test("the pool is disposed", async () => {
  await pool[Symbol.asyncDispose]();
});
