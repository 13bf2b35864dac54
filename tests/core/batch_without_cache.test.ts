/**
 * `perRequestBatch` with `cache: false`: loads are still batched and de-duplicated within one
 * batch, and nothing is kept once the batch has left: a later load is sent again, and no entry
 * stays in the scope. What `prime`, `invalidate`, `clear`, the stats and the channels do then.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import diagnosticsChannel from "node:diagnostics_channel";
import { setTimeout as delay } from "node:timers/promises";
import { currentScope, openCacheScope, perRequestBatch, runInCacheScope } from "../../mod.ts";

function recorder() {
  const batches: number[][] = [];
  let version = 0;
  const fn = perRequestBatch(async (keys: readonly number[]) => {
    batches.push([...keys]);
    version++;
    return keys.map((key) => `${key}@${version}`);
  }, { cache: false, name: "fresh" });
  return { batches, fn };
}

test("loads of one batch are de-duplicated; a later load of the key is sent again", async () => {
  const { batches, fn } = recorder();
  await runInCacheScope({}, async () => {
    const first = fn(1);
    assert.equal(fn(1), first); // a repeat in the same batch shares its slot
    assert.deepEqual(await Promise.all([first, fn(2)]), ["1@1", "2@1"]);
    assert.equal(await fn(1), "1@2");
  });
  assert.deepEqual(batches, [[1, 2], [1]]);
});

test("no entry stays in the scope; stats count misses, joins and batches, never a hit", async () => {
  const { fn } = recorder();
  await runInCacheScope({}, async (scope) => {
    const pending = [fn(1), fn(1), fn(2)];
    assert.equal(scope.stats.entries, 0); // not even while the batch waits
    await Promise.all(pending);
    await fn(1);
    assert.deepEqual(scope.stats.functions, [
      { name: "fresh", hits: 0, misses: 3, joins: 1, entries: 0, batches: 2 },
    ]);
  });
});

test("a load made while its key's batch is in flight goes into the next batch", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const batches: number[][] = [];
  const fn = perRequestBatch(async (keys: readonly number[]) => {
    batches.push([...keys]);
    if (batches.length === 1) await gate;
    return keys.map((key) => `${key}#${batches.length}`);
  }, { cache: false });
  await runInCacheScope({}, async () => {
    const first = fn(1);
    // The first batch is in flight once its function was called: wait for that, at most 30 s.
    for (let polls = 0; batches.length === 0 && polls < 30_000; polls++) await delay(1);
    assert.equal(batches.length, 1);
    const second = fn(1);
    assert.notEqual(second, first);
    assert.equal(await second, "1#2");
    release();
    assert.equal(await first, "1#2"); // the first batch answers after the second was sent
  });
  assert.deepEqual(batches, [[1], [1]]);
});

test("prime stores nothing and returns false; invalidate and clear find nothing", async () => {
  const { batches, fn } = recorder();
  await runInCacheScope({}, async (scope) => {
    assert.equal(fn.prime(1, "primed"), false);
    assert.equal(scope.stats.entries, 0);
    const pending = fn(1);
    assert.equal(fn.invalidate(1), false);
    assert.equal(fn.clear(), 0);
    assert.equal(fn(1), pending); // still one slot in the waiting batch
    assert.equal(await pending, "1@1");
  });
  assert.deepEqual(batches, [[1]]);
});

test("a rejected key rejects its loads and is sent again by the next one", async () => {
  let calls = 0;
  const fn = perRequestBatch((keys: readonly number[]) => {
    calls++;
    return keys.map((key) => calls === 1 ? new Error(`no ${key}`) : key);
  }, { cache: false });
  await runInCacheScope({}, async () => {
    await assert.rejects(Promise.all([fn(1), fn(1)]), { message: "no 1" });
    assert.equal(await fn(1), 1);
  });
  assert.equal(calls, 2);
});

test("the channels see misses and joins of the batch, and each batch", async () => {
  const { fn } = recorder();
  const seen: string[] = [];
  const onCall = (message: unknown) => {
    const { name, outcome } = message as { name: string; outcome: string };
    seen.push(`call ${name} ${outcome}`);
  };
  const onBatch = (message: unknown) => seen.push(`batch ${(message as { size: number }).size}`);
  diagnosticsChannel.subscribe("reqcache:call", onCall);
  diagnosticsChannel.subscribe("reqcache:batch", onBatch);
  try {
    await runInCacheScope({}, async () => {
      await Promise.all([fn(1), fn(1), fn(2)]);
      await fn(1);
    });
  } finally {
    diagnosticsChannel.unsubscribe("reqcache:call", onCall);
    diagnosticsChannel.unsubscribe("reqcache:batch", onBatch);
  }
  assert.deepEqual(seen, [
    "call fresh miss",
    "call fresh join",
    "call fresh miss",
    "batch 2",
    "call fresh miss",
    "batch 1",
  ]);
});

test("a scope that ends before dispatch: the batch runs outside any scope, and loads settle", async () => {
  const seen: unknown[] = [];
  const fn = perRequestBatch((keys: readonly number[]) => {
    seen.push(currentScope());
    return keys.map((key) => key + 1);
  }, { cache: false });
  let pending!: Promise<number>[];
  {
    using _scope = openCacheScope({ url: "/short" });
    pending = [fn(1), fn(1)];
  }
  assert.deepEqual(await Promise.all(pending), [2, 2]);
  assert.deepEqual(seen, [undefined]);
});

test("cache: false works with a key option and a schedule", async () => {
  const held: (() => void)[] = [];
  const sent: { id: number }[][] = [];
  const fn = perRequestBatch((queries: readonly { id: number }[]) => {
    sent.push([...queries]);
    return new Map(queries.map((query) => [query.id, query.id * 10]));
  }, { cache: false, key: (query) => query.id, schedule: (dispatch) => held.push(dispatch) });
  await runInCacheScope({}, async () => {
    const loads = [fn({ id: 1 }), fn({ id: 1 }), fn({ id: 2 })];
    held[0]();
    assert.deepEqual(await Promise.all(loads), [10, 10, 20]);
    const again = fn({ id: 1 });
    held[1]();
    assert.equal(await again, 10);
  });
  assert.deepEqual(sent.map((batch) => batch.map((query) => query.id)), [[1, 2], [1]]);
});
