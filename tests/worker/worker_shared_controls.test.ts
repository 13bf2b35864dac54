/**
 * The shared `perRequestCache`'s `invalidate`, `clear` and `prime` act for the whole request,
 * whichever thread calls them, on a real pool of 2 workers. Every computation reports the thread
 * it ran on, so "computed once, here" is asserted, not assumed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runInCacheScope } from "../../mod.ts";
import { where } from "./fixtures/shared_functions.ts";
import { onBothWorkers, sharedPool } from "./fixtures/shared_pool.ts";

const pool = sharedPool();

test("after invalidate in a worker, the next call on the main thread computes once, and both workers reuse it", async () => {
  await runInCacheScope({ url: "/a" }, async () => {
    const first = where(1);
    assert.equal(first.thread, "main");
    const [a, b] = await onBothWorkers(pool, () => pool.run("where", [1]));
    assert.deepEqual([a.computation, b.computation], [first.computation, first.computation]);
    assert.equal(await pool.run("invalidate", [1]), true);
    const again = where(1);
    assert.equal(again.thread, "main");
    assert.notEqual(again.computation, first.computation);
    assert.equal(where(1), again);
    const [c, d] = await onBothWorkers(pool, () => pool.run("where", [1]));
    assert.deepEqual([c.computation, d.computation], [again.computation, again.computation]);
  });
});

test("after invalidate on the main thread, the next call in a worker computes once, there", async () => {
  await runInCacheScope({ url: "/b" }, async () => {
    const [a, b] = await onBothWorkers(pool, () => pool.run("where", [2]));
    assert.equal(a.computation, b.computation);
    assert.notEqual(a.thread, "main");
    assert.equal(where(2).computation, a.computation);
    assert.equal(where.invalidate(2), true);
    const [c, d] = await onBothWorkers(pool, () => pool.run("whereTwice", [2]));
    const runs = new Set([...c, ...d].map((value) => value.computation));
    assert.equal(runs.size, 1, "computed once for both workers");
    assert.notEqual([...c, ...d][0].computation, a.computation);
    assert.notEqual(c[0].thread, "main");
    assert.equal(where(2).computation, c[0].computation);
  });
});

test("clear in a worker drops the function's entries on every thread of the request", async () => {
  await runInCacheScope({ url: "/c" }, async () => {
    const before = [where(3), where(4)];
    await onBothWorkers(pool, () => pool.run("where", [3]));
    assert.equal(await pool.run("clear", []), 1, "the worker held one copy");
    const after = [where(3), where(4)];
    assert.notEqual(after[0].computation, before[0].computation);
    assert.notEqual(after[1].computation, before[1].computation);
    const [a, b] = await onBothWorkers(pool, () => pool.run("where", [3]));
    assert.deepEqual([a.computation, b.computation], [after[0].computation, after[0].computation]);
  });
});

test("prime on the main thread answers a worker's call without computing", async () => {
  await runInCacheScope({ url: "/d" }, async (scope) => {
    const primed = { n: 5, thread: "primed", computation: "p", scope: scope.id };
    assert.equal(where.prime([5], primed), true);
    const [a, b] = await onBothWorkers(pool, () => pool.run("where", [5]));
    assert.deepEqual([a, b], [primed, primed]);
  });
});

test("prime in a worker answers the main thread and the other worker without computing", async () => {
  await runInCacheScope({ url: "/e" }, async (scope) => {
    const primed = { n: 6, thread: "primed in a worker", computation: "q", scope: scope.id };
    assert.equal(await pool.run("prime", [6, primed]), true);
    assert.deepEqual(where(6), primed);
    const [a, b] = await onBothWorkers(pool, () => pool.run("where", [6]));
    assert.deepEqual([a, b], [primed, primed]);
  });
});

test("the controls of one request leave another request's entries alone", async () => {
  await runInCacheScope({ url: "/kept" }, async () => {
    const kept = where(7);
    await runInCacheScope({ url: "/dropped" }, async () => {
      where(7);
      await pool.run("invalidate", [7]);
      await pool.run("clear", []);
    });
    assert.equal(where(7), kept);
    const [a] = await onBothWorkers(pool, () => pool.run("where", [7]));
    assert.equal(a.computation, kept.computation);
  });
});

test("the pool is disposed", async () => {
  await pool[Symbol.asyncDispose]();
});
