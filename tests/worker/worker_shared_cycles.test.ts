/**
 * The blocking lookup of a synchronous shared function cannot deadlock: two workers that each
 * own an entry and ask for the other's, where each computation needs the other (a cycle across
 * threads), both end with the cycle's `RangeError`, as in one thread. On a real pool of 2
 * workers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runInCacheScope } from "../../mod.ts";
import { perRequestCache } from "../../worker.ts";
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

test("a shared function's cycle is told before its tags option runs again", () => {
  let tagged = 0;
  const loop: (query: { n: number }) => number = perRequestCache(
    (query: { n: number }): number => loop({ n: query.n }) + 1,
    {
      name: "contract:loopTagged",
      tags: (query) => {
        tagged++;
        return [`n:${query.n}`];
      },
    },
  );
  runInCacheScope({ url: "/loop" }, () => {
    assert.throws(() => loop({ n: 1 }), {
      name: "RangeError",
      message: /^Cannot call contract:loopTagged: it called itself with the same arguments/,
    });
  });
  assert.equal(tagged, 1);
});

test("the pool is disposed", async () => {
  await pool[Symbol.asyncDispose]();
});
