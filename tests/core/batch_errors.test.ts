/**
 * How `perRequestBatch` fails: per key for an `Error` slot, per batch for a wrong answer or a
 * failing batch function, and what stays cached afterwards.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { perRequestBatch, runInCacheScope } from "../../mod.ts";

test("an Error in a slot rejects that key alone", async () => {
  const fn = perRequestBatch((keys: readonly number[]) =>
    keys.map((key) => key % 2 === 0 ? new RangeError(`odd only: ${key}`) : key)
  );
  await runInCacheScope({}, async () => {
    const [one, two, three] = await Promise.allSettled([fn(1), fn(2), fn(3)]);
    assert.deepEqual(one, { status: "fulfilled", value: 1 });
    assert.deepEqual(three, { status: "fulfilled", value: 3 });
    assert.equal(two.status, "rejected");
    assert.ok(two.reason instanceof RangeError && two.reason.message === "odd only: 2");
  });
});

test("many() resolves to values and the Error of each failing key", async () => {
  const fn = perRequestBatch(async (keys: readonly string[]) =>
    keys.map((key) => key === "bad" ? new Error(`no ${key}`) : key.toUpperCase())
  );
  await runInCacheScope({}, async () => {
    const values = await fn.many(["a", "bad", "b", "a"]);
    assert.deepEqual(values.slice(0, 1).concat(values.slice(2)), ["A", "B", "A"]);
    assert.ok(values[1] instanceof Error && values[1].message === "no bad");
  });
});

test("a result of the wrong length rejects every key with both lengths", async () => {
  const fn = perRequestBatch(async (keys: readonly number[]) => keys.slice(1), {
    name: "getUser",
  });
  await runInCacheScope({}, async () => {
    const results = await Promise.allSettled([fn(1), fn(2)]);
    for (const result of results) {
      assert.equal(result.status, "rejected");
      assert.ok(result.reason instanceof TypeError);
      assert.equal(
        result.reason.message,
        "Cannot load getUser: the batch function returned 1 values for 2 keys; return one value (or Error) per key, in the order of the keys",
      );
    }
  });
});

test("a result that is not an array rejects every key", async () => {
  const fn = perRequestBatch((() => ({ 1: "one" })) as never as (k: readonly number[]) => [], {
    name: "getUser",
  });
  await runInCacheScope({}, async () => {
    await assert.rejects(fn(1), {
      name: "TypeError",
      message:
        "Cannot load getUser: the batch function must return an array with one value (or Error) per key, or a Map from key to value, or a promise of either, received an object",
    });
  });
});

test("a throw or a rejection of the batch function rejects every key, with it as cause", async () => {
  const cause = new Error("connection refused");
  for (
    const batchFn of [
      (): never => {
        throw cause;
      },
      () => Promise.reject(cause),
    ]
  ) {
    const fn = perRequestBatch<number, number>(batchFn, { name: "getUser" });
    await runInCacheScope({}, async () => {
      const results = await Promise.allSettled([fn(1), fn(2)]);
      for (const result of results) {
        assert.equal(result.status, "rejected");
        assert.equal(
          result.reason.message,
          "Cannot load getUser: its batch function failed for a batch of 2 keys, with the error that is this error's cause",
        );
        assert.equal(result.reason.cause, cause);
      }
    });
  }
});

test("a rejected key is evicted so the next load retries it", async () => {
  let calls = 0;
  const fn = perRequestBatch(async (keys: readonly number[]) =>
    keys.map((key) => ++calls === 1 ? new Error("flaky") : key)
  );
  await runInCacheScope({}, async (scope) => {
    await assert.rejects(fn(1), { message: "flaky" });
    assert.equal(scope.stats.entries, 0);
    assert.equal(await fn(1), 1);
    assert.equal(scope.stats.functions[0].batches, 2);
  });
});

test("with cacheRejections a rejected key stays cached", async () => {
  let calls = 0;
  const fn = perRequestBatch(async (keys: readonly number[]) => {
    calls++;
    return keys.map(() => new Error("gone"));
  }, { cacheRejections: true });
  await runInCacheScope({}, async (scope) => {
    await assert.rejects(fn(1), { message: "gone" });
    await assert.rejects(fn(1), { message: "gone" });
    assert.equal(scope.stats.entries, 1);
  });
  assert.equal(calls, 1);
});

test("a key option that throws rejects that load and stores nothing", async () => {
  const fn = perRequestBatch((keys: readonly { id?: number }[]) => keys.map((k) => k.id), {
    key: (query) => {
      if (query.id === undefined) throw new TypeError("id is required");
      return query.id;
    },
  });
  await runInCacheScope({}, async (scope) => {
    await assert.rejects(fn({}), { name: "TypeError", message: "id is required" });
    assert.equal(scope.stats.entries, 0);
  });
});

test("a batch function that sorts its keys in place cannot reorder the library's slots", async () => {
  const sent: number[][] = [];
  const fn = perRequestBatch((keys: readonly number[]) => {
    sent.push([...keys]);
    (keys as number[]).sort((a, b) => a - b);
    return [new Error("first slot"), "second slot"];
  });
  await runInCacheScope({}, async (scope) => {
    // Values go by position in the order of the loads: the first load (key 3) gets the first
    // slot, whatever the function did to the array it was given.
    const [three, one] = await Promise.allSettled([fn(3), fn(1)]);
    assert.equal(three.status, "rejected");
    assert.deepEqual(one, { status: "fulfilled", value: "second slot" });
    // The rejection evicted key 3's entry, not key 1's.
    assert.equal(scope.stats.entries, 1);
    assert.equal(await fn(1), "second slot");
  });
  assert.deepEqual(sent, [[3, 1]]);
});
