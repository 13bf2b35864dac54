/**
 * When `perRequestBatch` dispatches, what one batch holds, and in which context it runs:
 * DataLoader's batching rules, found through the scope instead of a loader per request.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { currentScope, perRequestBatch, perRequestCache, runInCacheScope } from "../../mod.ts";

/** A batch function that records every batch it receives and answers `key * 10`. */
function recorder() {
  const batches: number[][] = [];
  const fn = perRequestBatch(async (keys: readonly number[]) => {
    batches.push([...keys]);
    return keys.map((key) => key * 10);
  }, { name: "times10" });
  return { batches, fn };
}

test("loads made in one tick are one call of the batch function", async () => {
  const { batches, fn } = recorder();
  await runInCacheScope({}, async () => {
    const values = await Promise.all([fn(1), fn(2), fn(3)]);
    assert.deepEqual(values, [10, 20, 30]);
  });
  assert.deepEqual(batches, [[1, 2, 3]]);
});

test("loads made in promise jobs of the same tick join the batch", async () => {
  const { batches, fn } = recorder();
  await runInCacheScope({}, async () => {
    // A resolver that awaits one level before it loads, as graphql-js list fields do.
    const later = Promise.resolve().then(() => fn(2));
    const deeper = Promise.resolve().then(() => Promise.resolve()).then(() => fn(3));
    assert.deepEqual(await Promise.all([fn(1), later, deeper]), [10, 20, 30]);
  });
  assert.deepEqual(batches, [[1, 2, 3]]);
});

test("a load after a timer starts a new batch", async () => {
  const { batches, fn } = recorder();
  await runInCacheScope({}, async () => {
    await fn(1);
    await delay(1);
    await fn(2);
  });
  assert.deepEqual(batches, [[1], [2]]);
});

test("a repeated key is sent once: loads while it is pending join, later ones hit", async () => {
  const { batches, fn } = recorder();
  await runInCacheScope({}, async (scope) => {
    const first = fn(7);
    const second = fn(7);
    assert.equal(first, second);
    await Promise.all([first, fn(8), fn(7)]);
    assert.equal(await fn(7), 70); // later: from the cache
    assert.deepEqual(
      scope.stats.functions.map(({ name, hits, misses, joins, entries, batches }) => ({
        name,
        hits,
        misses,
        joins,
        entries,
        batches,
      })),
      [{ name: "times10", hits: 1, misses: 2, joins: 2, entries: 2, batches: 1 }],
    );
    assert.deepEqual([scope.stats.hits, scope.stats.misses, scope.stats.joins], [1, 2, 2]);
  });
  assert.deepEqual(batches, [[7, 8]]);
});

test("keys reach the batch function in the order of their first load", async () => {
  const { batches, fn } = recorder();
  await runInCacheScope({}, async () => {
    await Promise.all([5, 3, 5, 9, 1, 3].map((key) => fn(key)));
  });
  assert.deepEqual(batches, [[5, 3, 9, 1]]);
});

test("maxBatchSize splits a larger batch into calls of that size, in order", async () => {
  const batches: number[][] = [];
  const fn = perRequestBatch((keys: readonly number[]) => {
    batches.push([...keys]);
    return keys.map(String);
  }, { maxBatchSize: 2 });
  await runInCacheScope({}, async (scope) => {
    assert.deepEqual(await Promise.all([1, 2, 3, 4, 5].map(fn)), ["1", "2", "3", "4", "5"]);
    assert.equal(scope.stats.functions[0].batches, 3);
  });
  assert.deepEqual(batches, [[1, 2], [3, 4], [5]]);
});

test("a load made while its key's batch is in flight joins that batch's promise", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const batches: number[][] = [];
  const fn = perRequestBatch(async (keys: readonly number[]) => {
    batches.push([...keys]);
    await gate;
    return keys.map((key) => ({ key }));
  });
  await runInCacheScope({}, async () => {
    const first = fn(1);
    while (batches.length === 0) await delay(1); // dispatched, now in flight
    const joined = fn(1);
    assert.equal(joined, first);
    release();
    assert.equal(await joined, await first);
  });
  assert.deepEqual(batches, [[1]]);
});

test("two concurrent requests never share a batch or an entry", async () => {
  const seen: { request: unknown; keys: number[] }[] = [];
  const fn = perRequestBatch(async (keys: readonly number[]) => {
    seen.push({ request: currentScope()?.request, keys: [...keys] });
    return keys.map((key) => ({ key, request: currentScope()?.request }));
  });
  const a = { url: "/a" };
  const b = { url: "/b" };
  const [fromA, fromB] = await Promise.all([
    runInCacheScope(a, () => Promise.all([fn(1), fn(2)])),
    runInCacheScope(b, () => Promise.all([fn(2), fn(3)])),
  ]);
  assert.deepEqual(fromA.map((value) => value.request), [a, a]);
  assert.deepEqual(fromB.map((value) => value.request), [b, b]);
  assert.notEqual(fromA[1], fromB[0]);
  assert.deepEqual(seen, [{ request: a, keys: [1, 2] }, { request: b, keys: [2, 3] }]);
});

test("the batch function runs in the request's scope, and cached functions there use it", async () => {
  let runs = 0;
  const tenant = perRequestCache(() => ({ run: ++runs }));
  const fn = perRequestBatch((keys: readonly number[]) => {
    const scope = currentScope();
    return keys.map((key) => ({ key, scope, tenant: tenant() }));
  });
  // Scheduled from a context with no scope: the batch still runs in the scope of its keys.
  const [first, again] = await runInCacheScope({}, async (scope) => {
    const values = await Promise.all([fn(1), fn(2)]);
    assert.equal(values[0].scope, scope);
    return [values[0].tenant, tenant()];
  });
  assert.equal(first, again);
  assert.equal(runs, 1);
});

test("outside any scope a load is a batch of one and nothing is cached", async () => {
  const { batches, fn } = recorder();
  assert.deepEqual(await Promise.all([fn(1), fn(1), fn(2)]), [10, 10, 20]);
  assert.deepEqual(batches, [[1], [1], [2]]);
  assert.equal(fn.prime(1, 5), false);
  assert.equal(fn.invalidate(1), false);
  assert.equal(fn.clear(), 0);
});

test("outside any scope the batch function sees no scope", async () => {
  const fn = perRequestBatch((keys: readonly number[]) => keys.map(() => currentScope()));
  assert.equal(await fn(1), undefined);
});

test("stats rows of batched functions count batches; cached functions' rows have no such field", async () => {
  const cached = perRequestCache((n: number) => n, { name: "cached" });
  const batched = perRequestBatch((keys: readonly number[]) => keys, { name: "batched" });
  const primed = perRequestBatch((keys: readonly number[]) => keys, { name: "primed" });
  await runInCacheScope({}, async (scope) => {
    cached(1);
    await batched.many([1, 2]);
    primed.prime(1, 1);
    assert.deepEqual(scope.stats.functions, [
      { name: "cached", hits: 0, misses: 1, joins: 0, entries: 1 },
      { name: "batched", hits: 0, misses: 2, joins: 0, entries: 2, batches: 1 },
      { name: "primed", hits: 0, misses: 0, joins: 0, entries: 1, batches: 0 },
    ]);
  });
});
