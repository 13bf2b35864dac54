/**
 * A `perRequestBatch` function that answers with a `Map` instead of an array: each load gets
 * the value stored under its key (SameValueZero; with a `key` option, the key it made), a key
 * the `Map` lacks gets `undefined`, and an `Error` value rejects that load alone.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { perRequestBatch, runInCacheScope } from "../../mod.ts";

interface Row {
  id: number;
  name: string;
}

/** A table whose rows come back in its own order (by name), not the order of the keys. */
const table: Row[] = [
  { id: 3, name: "Ada" },
  { id: 1, name: "Bob" },
  { id: 2, name: "Cy" },
];

test("a Map answer gives each load the value stored under its key, whatever the order of the rows", async () => {
  const sent: number[][] = [];
  const getRow = perRequestBatch(async (ids: readonly number[]) => {
    sent.push([...ids]);
    const rows = table.filter((row) => ids.includes(row.id));
    return new Map(rows.map((row) => [row.id, row]));
  });
  await runInCacheScope({}, async () => {
    const rows = await Promise.all([getRow(1), getRow(2), getRow(3), getRow(1)]);
    assert.deepEqual(rows.map((row) => row?.name), ["Bob", "Cy", "Ada", "Bob"]);
    assert.equal(rows[0], rows[3]);
  });
  assert.deepEqual(sent, [[1, 2, 3]]);
});

test("a key the Map lacks resolves to undefined and stays cached like any value", async () => {
  let batches = 0;
  const getRow = perRequestBatch((ids: readonly number[]) => {
    batches++;
    return new Map(table.filter((row) => ids.includes(row.id)).map((row) => [row.id, row]));
  });
  await runInCacheScope({}, async (scope) => {
    const [missing, found] = await Promise.all([getRow(99), getRow(3)]);
    assert.equal(missing, undefined);
    assert.equal(found?.name, "Ada");
    assert.equal(await getRow(99), undefined);
    assert.equal(scope.stats.functions[0].hits, 1);
    // The types say so too: a Map answer's loads may resolve to undefined.
    // @ts-expect-error: 'row' is possibly 'undefined'
    await getRow(3).then((row) => row.name);
  });
  assert.equal(batches, 1);
});

test("an Error value in the Map rejects that load alone, and the rejected key is retried", async () => {
  let round = 0;
  const getRow = perRequestBatch(async (ids: readonly number[]) => {
    round++;
    return new Map<number, string | Error>(
      ids.map((id) => [id, id === 2 && round === 1 ? new RangeError(`no row ${id}`) : `row ${id}`]),
    );
  });
  await runInCacheScope({}, async (scope) => {
    const [one, two] = await Promise.allSettled([getRow(1), getRow(2)]);
    assert.deepEqual(one, { status: "fulfilled", value: "row 1" });
    assert.equal(two.status, "rejected");
    assert.ok(two.reason instanceof RangeError && two.reason.message === "no row 2");
    assert.equal(scope.stats.entries, 1);
    assert.equal(await getRow(2), "row 2");
  });
  assert.equal(round, 2);
});

test("with a key option the Map is read by the key that option made, and the first load key is sent", async () => {
  const sent: { id: number }[][] = [];
  const getRow = perRequestBatch((queries: readonly { id: number }[]) => {
    sent.push([...queries]);
    return new Map(queries.map((query) => [query.id, `row ${query.id}`]));
  }, { key: (query) => query.id });
  const first = { id: 4 };
  await runInCacheScope({}, async () => {
    assert.deepEqual(await Promise.all([getRow(first), getRow({ id: 4 }), getRow({ id: 5 })]), [
      "row 4",
      "row 4",
      "row 5",
    ]);
  });
  assert.equal(sent[0][0], first);
  assert.equal(sent.length, 1);
});

test("Map keys compare with SameValueZero: NaN finds NaN, and -0 finds 0", async () => {
  const getValue = perRequestBatch((keys: readonly number[]) =>
    new Map<number, string>([[NaN, "not a number"], [0, "zero"]]).set(keys.length, "count")
  );
  await runInCacheScope({}, async () => {
    assert.deepEqual(await Promise.all([getValue(NaN), getValue(-0)]), ["not a number", "zero"]);
  });
});

test("a Map answer is read per call when maxBatchSize splits the batch", async () => {
  const sent: number[][] = [];
  const getRow = perRequestBatch((ids: readonly number[]) => {
    sent.push([...ids]);
    // Each call answers for its own keys only: a slot of the other call would be undefined.
    return new Map(ids.map((id) => [id, id * 100]));
  }, { maxBatchSize: 2 });
  await runInCacheScope({}, async () => {
    assert.deepEqual(await Promise.all([1, 2, 3].map((id) => getRow(id))), [100, 200, 300]);
  });
  assert.deepEqual(sent, [[1, 2], [3]]);
});

test("outside any scope a Map answer serves the batch of one", async () => {
  const getRow = perRequestBatch((ids: readonly number[]) => new Map([[ids[0], `row ${ids[0]}`]]));
  assert.equal(await getRow(7), "row 7");
});

test("an answer that is neither an array nor a Map rejects every load with a TypeError naming the function", async () => {
  for (const answer of [new Set([1, 2]), { 1: "one", 2: "two" }, "one,two", null]) {
    const getRow = perRequestBatch((() => Promise.resolve(answer)) as never as () => [], {
      name: "getRow",
    });
    await runInCacheScope({}, async (scope) => {
      const results = await Promise.allSettled([getRow(1), getRow(2)]);
      for (const result of results) {
        assert.equal(result.status, "rejected");
        assert.equal(result.reason.name, "TypeError");
        assert.match(
          result.reason.message,
          /^Cannot load getRow: the batch function must return an array with one value \(or Error\) per key, or a Map from key to value, or a promise of either, received /,
        );
      }
      assert.equal(scope.stats.entries, 0);
    });
  }
});
