/**
 * Concurrent identical calls on several threads compute once, the others count as joins, and
 * the main thread's `scope.stats` counts the shared function's calls from every thread, in one
 * row under its name. On a real pool of 2 workers, with a computation that stays in flight until
 * a gate opens, so that the calls meet it in flight whatever the scheduler does.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runInCacheScope } from "../../mod.ts";
import { gated, where } from "./fixtures/shared_functions.ts";
import { sharedPool } from "./fixtures/shared_pool.ts";

const pool = sharedPool();

test("concurrent identical calls on both workers and the main thread compute once; the others are joins", async () => {
  const gate = new Int32Array(new SharedArrayBuffer(4));
  await runInCacheScope({ url: "/a" }, async (scope) => {
    await pool.stats(); // both workers serve
    const first = pool.run("gated", [1, gate]);
    await pool.stats(); // its worker took the entry, and its promise is in flight
    const second = pool.run("gated", [1, gate]);
    await pool.stats(); // the second worker asked, and waits for it
    const here = gated(1, gate);
    Atomics.store(gate, 0, 1);
    const results = await Promise.all([first, second, here]);
    assert.equal(new Set(results.map((result) => result.computation)).size, 1);
    assert.notEqual(results[0].thread, "main");
    const row = scope.stats.functions.find((f) => f.name === "contract:gated");
    assert.deepEqual(row, { name: "contract:gated", hits: 0, misses: 1, joins: 2, entries: 1 });
  });
});

test("scope.stats on the main thread counts the hits, misses, joins and entries of every thread", async () => {
  await runInCacheScope({ url: "/b" }, async (scope) => {
    where(1); // a miss, here
    where(1); // a hit, here
    const [a, b] = await pool.run("whereTwice", [1]); // two hits in a worker
    const [c] = await pool.run("whereTwice", [2]); // a miss, then a hit, in a worker
    assert.equal(a.computation, b.computation);
    assert.notEqual(c.thread, "main");
    const row = scope.stats.functions.find((f) => f.name === "contract:where");
    assert.deepEqual(row, { name: "contract:where", hits: 4, misses: 2, joins: 0, entries: 2 });
    assert.deepEqual(
      [scope.stats.hits, scope.stats.misses, scope.stats.entries],
      [4, 2, 2],
    );
  });
});

test("the pool is disposed", async () => {
  await pool[Symbol.asyncDispose]();
});
