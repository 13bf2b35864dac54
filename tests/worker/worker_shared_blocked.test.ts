/**
 * A worker blocked on an entry another worker computes is answered however that computation
 * ends: here, an async function busy before its first `await`, so the second worker asks while
 * the entry is still computing and learns only later that it is a promise. On a real pool of 2
 * workers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runInCacheScope } from "../../mod.ts";
import { onBothWorkers, sharedPool } from "./fixtures/shared_pool.ts";

const pool = sharedPool();

/** Rejects after 30 s instead of letting a worker that is never answered stall the run. */
async function within<T>(work: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("still waiting after 30 s: a hang")), 30_000);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

test("a worker blocked on an async entry still computing settles with its owner's value", async () => {
  const flags = new Int32Array(new SharedArrayBuffer(8));
  await runInCacheScope({ url: "/blocked" }, async () => {
    let turn: 0 | 1 = 0;
    const [first, second] = await within(onBothWorkers(pool, () => {
      const task = pool.run("busyStart", [5, turn, flags]);
      turn = 1;
      return task;
    }));
    // Each task waited for the other to start (`flags`): two workers ran them at once.
    assert.equal(first.n, 5);
    assert.notEqual(first.thread, "main");
    assert.deepEqual(second, first); // one computation, by one worker, for both
  });
});

test("the pool is disposed", async () => {
  await pool[Symbol.asyncDispose]();
});
