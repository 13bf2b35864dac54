/**
 * `invalidateTags` called on any thread drops the request's tagged shared entries on every
 * thread, entries still being computed included, and only that request's: on a real pool of 2
 * workers, with computations that report where they ran and stay in flight until a gate opens.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { invalidateTags, runInCacheScope } from "../../mod.ts";
import { tagged } from "./fixtures/shared_functions.ts";
import { onBothWorkers, sharedPool } from "./fixtures/shared_pool.ts";

const pool = sharedPool();

function openGate(): Int32Array {
  const gate = new Int32Array(new SharedArrayBuffer(4));
  Atomics.store(gate, 0, 1);
  return gate;
}

test("invalidateTags in a worker drops the request's tagged entries on the main thread and in the other worker", async () => {
  const gate = openGate();
  await runInCacheScope({ url: "/a" }, async () => {
    const first = await tagged(1, gate);
    assert.equal(first.thread, "main");
    await onBothWorkers(pool, () => pool.run("tagged", [1, gate]));
    assert.equal(await pool.run("invalidateTags", ["n:1"]), 1, "the worker's copy");
    const again = await tagged(1, gate);
    assert.equal(again.thread, "main");
    assert.notEqual(again.computation, first.computation);
    const [a, b] = await onBothWorkers(pool, () => pool.run("tagged", [1, gate]));
    assert.deepEqual([a.computation, b.computation], [again.computation, again.computation]);
  });
});

test("invalidateTags on the main thread drops an entry a worker is still computing, and only this request's", async () => {
  const gate = new Int32Array(new SharedArrayBuffer(4));
  await runInCacheScope({ url: "/other" }, async () => {
    const other = pool.run("tagged", [2, gate]);
    await runInCacheScope({ url: "/mine" }, async () => {
      const inWorker = pool.run("tagged", [2, gate]);
      // A worker answers stats after its task's synchronous start: by then it took the entry,
      // and its promise is in flight.
      await pool.stats();
      assert.equal(invalidateTags("n:2"), 1);
      const mine = tagged(2, openGate());
      Atomics.store(gate, 0, 1);
      const [computedThere, computedHere] = await Promise.all([inWorker, mine]);
      assert.notEqual(computedThere.thread, "main");
      assert.equal(computedHere.thread, "main");
      assert.notEqual(computedHere.computation, computedThere.computation);
      // The dropped computation was not stored back when it settled: the request has the new one.
      const [a, b] = await onBothWorkers(pool, () => pool.run("tagged", [2, gate]));
      assert.deepEqual([a.computation, b.computation], [
        computedHere.computation,
        computedHere.computation,
      ]);
    });
    // The other request's entry, computed in a worker under the same tag, was not dropped.
    const kept = await other;
    assert.equal((await tagged(2, gate)).computation, kept.computation);
  });
});

test("the pool is disposed", async () => {
  await pool[Symbol.asyncDispose]();
});
