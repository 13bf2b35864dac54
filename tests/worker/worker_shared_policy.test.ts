/**
 * The core's options and channels hold for the shared `perRequestCache` in workers too: a
 * rejection kept by `cacheRejections` is reused on every thread, `outsideScope` throws or warns
 * in a worker, and `reqcache:call` is published on the thread that made the call. On a real
 * pool of 2 workers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import diagnostics from "node:diagnostics_channel";
import { runInCacheScope } from "../../mod.ts";
import { bounded, rejecting, where } from "./fixtures/shared_functions.ts";
import { onBothWorkers, sharedPool } from "./fixtures/shared_pool.ts";

const pool = sharedPool();

test("a rejection kept by cacheRejections is reused on every thread, its name and message preserved", async () => {
  await runInCacheScope({ url: "/a" }, async () => {
    const first = await pool.run("rejecting", [1]);
    assert.equal(first.name, "NotFound");
    assert.match(first.message, /^no 1 \(worker \w+, [\w-]+\)$/, "computed in a worker");
    await assert.rejects(rejecting(1), { name: "NotFound", message: first.message });
    const [a, b] = await onBothWorkers(pool, () => pool.run("rejecting", [1]));
    assert.deepEqual([a, b], [first, first]);
  });
});

test('outsideScope: "throw" throws in a worker for a task run outside any scope', async () => {
  await assert.rejects(pool.run("strict", [1]), {
    name: "TypeError",
    message:
      'Cannot call contract:strict: no cache scope is open, and outsideScope is "throw"; wrap the handler with withCacheScope(handler) or withListenerCacheScope(listener), add the cacheScope() middleware, or make the call inside runInCacheScope(request, fn)',
  });
  const inScope = await runInCacheScope({ url: "/b" }, () => pool.run("strict", [1]));
  assert.notEqual(inScope.thread, "main");
});

test('outsideScope: "warn" warns once in a worker, and runs the call uncached there', async () => {
  const [a, b] = await onBothWorkers(pool, () => pool.run("warning", [1]));
  for (const { value, warned } of [a, b]) {
    assert.notEqual(value.thread, "main");
    assert.equal(warned.length, 1);
    assert.match(
      warned[0],
      /^@reqcache\/core: contract:warning was called outside any cache scope/,
    );
  }
});

test("reqcache:call is published on the thread that made the call, not on the thread that computed", async () => {
  const seenHere: string[] = [];
  const listener = (message: unknown) => seenHere.push((message as { outcome: string }).outcome);
  await runInCacheScope({ url: "/c" }, async () => {
    where(1);
    diagnostics.subscribe("reqcache:call", listener);
    try {
      const seenThere = await pool.run("whereWatched", [1]);
      assert.deepEqual(seenThere.map(({ name, outcome }) => [name, outcome]), [
        ["contract:where", "hit"],
        ["contract:where", "hit"],
      ]);
      assert.notEqual(seenThere[0].thread, "main");
      assert.deepEqual(seenHere, [], "nothing published on the main thread for a worker's call");
      where(1);
      assert.deepEqual(seenHere, ["hit"]);
    } finally {
      diagnostics.unsubscribe("reqcache:call", listener);
    }
  });
});

test("maxEntries bounds the main thread's table for entries computed in a worker, least recently used out", async () => {
  await runInCacheScope({ url: "/bounded" }, async (scope) => {
    const [one, two] = await pool.run("bounded", [[1, 2]]);
    assert.notEqual(one.thread, "main");
    const entries = () => scope.stats.functions.find((row) => row.name === "contract:bounded");
    assert.equal(entries()?.entries, 1);
    assert.deepEqual(bounded(2), two, "the newest entry stays");
    assert.notEqual(bounded(1).computation, one.computation, "the oldest was evicted");
    assert.equal(entries()?.entries, 1);
  });
});

test("the pool is disposed", async () => {
  await pool[Symbol.asyncDispose]();
});
