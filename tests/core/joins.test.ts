/**
 * Joins: a call that receives an entry whose promise is still pending is a join; `hits` counts
 * only calls answered by a settled entry (README, "Promises").
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { perRequestBatch, perRequestCache, runInCacheScope } from "../../mod.ts";

/** A function whose every run waits for `release`, counting its runs. */
function gated() {
  const gate = Promise.withResolvers<void>();
  let runs = 0;
  const load = perRequestCache(async (id: number) => {
    runs++;
    await gate.promise;
    return { id };
  }, { name: "load" });
  return { load, release: () => gate.resolve(), runs: () => runs };
}

test("100 concurrent identical calls: 1 miss and 99 joins; a call after it settled is a hit", async () => {
  const { load, release, runs } = gated();
  await runInCacheScope({}, async (scope) => {
    const calls = Array.from({ length: 100 }, () => load(7));
    assert.deepEqual([scope.stats.hits, scope.stats.misses, scope.stats.joins], [0, 1, 99]);
    release();
    const values = await Promise.all(calls);
    assert.ok(values.every((value) => value === values[0]));
    await load(7);
    const { hits, misses, joins, functions } = scope.stats;
    assert.deepEqual({ hits, misses, joins }, { hits: 1, misses: 1, joins: 99 });
    assert.deepEqual(functions, [{ name: "load", hits: 1, misses: 1, joins: 99, entries: 1 }]);
  });
  assert.equal(runs(), 1);
});

test("100 concurrent requests making 100 concurrent identical calls each count exactly their own", async () => {
  const { load, release, runs } = gated();
  const started: Promise<void>[] = [];
  const requests = Array.from({ length: 100 }, (_, i) => {
    const ready = Promise.withResolvers<void>();
    started.push(ready.promise);
    return runInCacheScope({ request: i }, async (scope) => {
      const calls = Array.from({ length: 100 }, () => load(i % 3));
      ready.resolve();
      await Promise.all(calls);
      await Promise.all([load(i % 3), load(i % 3)]);
      const { hits, misses, joins, entries } = scope.stats;
      return { hits, misses, joins, entries };
    });
  });
  await Promise.all(started); // every request has made its calls while the runs wait
  release();
  for (const stats of await Promise.all(requests)) {
    assert.deepEqual(stats, { hits: 2, misses: 1, joins: 99, entries: 1 });
  }
  assert.equal(runs(), 100);
});

test("a synchronous function's repeated calls are hits, never joins", () => {
  const double = perRequestCache((n: number) => n * 2);
  runInCacheScope({}, (scope) => {
    for (let i = 0; i < 5; i++) double(1);
    assert.deepEqual([scope.stats.hits, scope.stats.misses, scope.stats.joins], [4, 1, 0]);
  });
});

test("a primed promise still pending gives joins, then hits once it settled", async () => {
  const fetchUser = perRequestCache(async (id: number) => ({ id, fetched: true }));
  await runInCacheScope({}, async (scope) => {
    const user = Promise.withResolvers<{ id: number; fetched: boolean }>();
    assert.equal(fetchUser.prime([1], user.promise), true);
    fetchUser(1);
    fetchUser(1);
    user.resolve({ id: 1, fetched: false });
    assert.deepEqual(await fetchUser(1), { id: 1, fetched: false }); // still a join: not settled
    fetchUser(1);
    assert.deepEqual([scope.stats.hits, scope.stats.misses, scope.stats.joins], [1, 0, 3]);
  });
});

test("an entry holding another thenable is never watched: its calls are hits", () => {
  let thens = 0;
  const thenable = { then: () => thens++ };
  const lazy = perRequestCache(() => thenable);
  runInCacheScope({}, (scope) => {
    lazy();
    lazy();
    assert.deepEqual([scope.stats.hits, scope.stats.misses, scope.stats.joins], [1, 1, 0]);
  });
  assert.equal(thens, 0);
});

test("a join refreshes the entry's recency under maxEntries, as a hit does", async () => {
  const gate = Promise.withResolvers<void>();
  const load = perRequestCache(async (id: number) => {
    await gate.promise;
    return id;
  }, { maxEntries: 2 });
  await runInCacheScope({}, async (scope) => {
    const one = load(1);
    load(2);
    assert.equal(load(1), one); // a join: 1 is now the most recent
    load(3); // evicts 2, the least recently used
    assert.equal(load(1), one);
    assert.equal(scope.stats.misses, 3);
    gate.resolve();
  });
});

/** A batched function whose every batch waits for `release`, with the keys of each batch. */
function gatedBatch() {
  const gate = Promise.withResolvers<void>();
  const sent: number[][] = [];
  let dispatched = Promise.withResolvers<void>();
  const load = perRequestBatch(async (ids: readonly number[]) => {
    sent.push([...ids]);
    dispatched.resolve();
    await gate.promise;
    return ids.map((id) => ({ id }));
  }, { name: "loadBatch" });
  return {
    load,
    sent,
    release: () => gate.resolve(),
    /** Resolves once the next batch has been handed to the batch function. */
    nextDispatch: () => dispatched.promise.then(() => void (dispatched = Promise.withResolvers())),
  };
}

test("a batched function: loads of a key waiting in the batch or in flight are joins, loads after it settled are hits", async () => {
  const { load, sent, release, nextDispatch } = gatedBatch();
  await runInCacheScope({}, async (scope) => {
    const waiting = Array.from({ length: 100 }, (_, i) => load(i % 10));
    assert.deepEqual([scope.stats.hits, scope.stats.misses, scope.stats.joins], [0, 10, 90]);
    await nextDispatch();
    const inFlight = Array.from({ length: 100 }, (_, i) => load(i % 10));
    assert.deepEqual([scope.stats.hits, scope.stats.misses, scope.stats.joins], [0, 10, 190]);
    release();
    const values = await Promise.all([...waiting, ...inFlight]);
    values.forEach((value, i) => assert.equal(value, values[i % 10]));
    await Promise.all(Array.from({ length: 10 }, (_, i) => load(i)));
    const { hits, misses, joins, functions } = scope.stats;
    assert.deepEqual({ hits, misses, joins }, { hits: 10, misses: 10, joins: 190 });
    assert.deepEqual(functions, [
      { name: "loadBatch", hits: 10, misses: 10, joins: 190, entries: 10, batches: 1 },
    ]);
  });
  assert.deepEqual(sent, [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]);
});

test("100 concurrent requests loading through one batched function each count exactly their own", async () => {
  const { load, sent, release } = gatedBatch();
  const started: Promise<void>[] = [];
  const requests = Array.from({ length: 100 }, (_, i) => {
    const ready = Promise.withResolvers<void>();
    started.push(ready.promise);
    return runInCacheScope({ request: i }, async (scope) => {
      const loads = Array.from({ length: 100 }, (_, j) => load((i + j) % 4));
      ready.resolve();
      await Promise.all(loads);
      await Promise.all([load(i % 4), load((i + 1) % 4)]);
      const { hits, misses, joins, entries } = scope.stats;
      return { hits, misses, joins, entries };
    });
  });
  await Promise.all(started); // every request has made its loads while the batches wait
  release();
  for (const stats of await Promise.all(requests)) {
    assert.deepEqual(stats, { hits: 2, misses: 4, joins: 96, entries: 4 });
  }
  assert.equal(sent.length, 100); // one batch per request
  assert.ok(sent.every((keys) => keys.length === 4));
});
