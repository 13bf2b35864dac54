/**
 * What `perRequestBatch` keeps in a scope and how `prime`, `invalidate`, `clear`, the `key`
 * option and the end of the scope act on it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { currentScope, openCacheScope, perRequestBatch, runInCacheScope } from "../../mod.ts";

function recorder() {
  const batches: number[][] = [];
  let version = 0;
  const fn = perRequestBatch(async (keys: readonly number[]) => {
    batches.push([...keys]);
    version++;
    return keys.map((key) => `${key}@${version}`);
  });
  return { batches, fn };
}

test("a primed key is answered without a batch; prime never overwrites", async () => {
  const { batches, fn } = recorder();
  await runInCacheScope({}, async () => {
    assert.equal(fn.prime(1, "primed"), true);
    assert.equal(fn.prime(1, "again"), false);
    assert.deepEqual(await Promise.all([fn(1), fn(2)]), ["primed", "2@1"]);
    assert.equal(fn.prime(2, "late"), false);
  });
  assert.deepEqual(batches, [[2]]);
});

test("priming an Error makes the key's loads reject with it", async () => {
  const { batches, fn } = recorder();
  const error = new Error("not found");
  await runInCacheScope({}, async () => {
    assert.equal(fn.prime(1, error), true);
    await assert.rejects(fn(1), (reason) => reason === error);
  });
  assert.deepEqual(batches, []);
});

test("invalidate drops one key so the next load asks again", async () => {
  const { batches, fn } = recorder();
  await runInCacheScope({}, async () => {
    await Promise.all([fn(1), fn(2)]);
    assert.equal(fn.invalidate(1), true);
    assert.equal(fn.invalidate(1), false);
    assert.deepEqual(await Promise.all([fn(1), fn(2)]), ["1@2", "2@1"]);
  });
  assert.deepEqual(batches, [[1, 2], [1]]);
});

test("clear drops every key of the function in the scope", async () => {
  const { batches, fn } = recorder();
  await runInCacheScope({}, async (scope) => {
    await Promise.all([fn(1), fn(2)]);
    assert.equal(fn.clear(), 2);
    assert.equal(scope.stats.entries, 0);
    await Promise.all([fn(1), fn(2)]);
  });
  assert.deepEqual(batches, [[1, 2], [1, 2]]);
});

test("a key invalidated before dispatch is still sent once", async () => {
  const { batches, fn } = recorder();
  await runInCacheScope({}, async () => {
    const first = fn(1);
    fn.invalidate(1);
    const second = fn(1);
    fn.clear();
    const third = fn(1);
    assert.deepEqual(await Promise.all([first, second, third]), ["1@1", "1@1", "1@1"]);
  });
  assert.deepEqual(batches, [[1]]);
});

test("a batch that settles after its key was invalidated leaves the new entry alone", async () => {
  const gates: (() => void)[] = [];
  const batches: number[][] = [];
  const fn = perRequestBatch(async (keys: readonly number[]) => {
    batches.push([...keys]);
    const round = batches.length;
    await new Promise<void>((resolve) => gates.push(resolve));
    return keys.map(() => round === 1 ? new Error("stale") : "fresh");
  });
  await runInCacheScope({}, async (scope) => {
    const stale = fn(1);
    while (gates.length < 1) await delay(1);
    fn.invalidate(1);
    const fresh = fn(1);
    while (gates.length < 2) await delay(1);
    gates[0](); // the old batch rejects now: its eviction must not drop the new entry
    await assert.rejects(stale, { message: "stale" });
    gates[1]();
    assert.equal(await fresh, "fresh");
    assert.equal(await fn(1), "fresh");
    assert.equal(scope.stats.functions[0].batches, 2);
  });
});

test("the key option maps object keys to one entry; the first load key is sent", async () => {
  const sent: { id: number }[][] = [];
  const fn = perRequestBatch((keys: readonly { id: number }[]) => {
    sent.push([...keys]);
    return keys.map((key) => key.id * 2);
  }, { key: (query) => query.id });
  const first = { id: 1 };
  await runInCacheScope({}, async () => {
    assert.deepEqual(await Promise.all([fn(first), fn({ id: 1 }), fn({ id: 2 })]), [2, 2, 4]);
    assert.equal(fn.invalidate({ id: 1 }), true);
  });
  assert.equal(sent.length, 1);
  assert.equal(sent[0][0], first);
  assert.deepEqual(sent[0], [{ id: 1 }, { id: 2 }]);
});

test("a scope that ends before dispatch: the batch still runs, outside any scope", async () => {
  const seen: unknown[] = [];
  const fn = perRequestBatch((keys: readonly number[]) => {
    seen.push(currentScope());
    return keys.map((key) => key + 1);
  });
  let pending!: Promise<number>;
  {
    using scope = openCacheScope({ url: "/short" });
    pending = fn(1);
    assert.equal(scope.stats.entries, 1);
  }
  assert.equal(await pending, 2);
  assert.deepEqual(seen, [undefined]);
});

test("a scope that ends while its batch is in flight: loads settle, nothing is stored", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  let started = false;
  const fn = perRequestBatch(async (keys: readonly number[]) => {
    started = true;
    await gate;
    return keys.map((key) => key * 3);
  });
  const scope = openCacheScope({ url: "/in-flight" });
  const pending = fn(2);
  while (!started) await delay(1);
  scope[Symbol.dispose]();
  release();
  assert.equal(await pending, 6);
  assert.equal(scope.stats.entries, 0);
  assert.equal(currentScope(), undefined);
});
