/**
 * Issue 13: an N+1 resolver workload, `perRequestBatch` against a DataLoader created per
 * request. One request resolves 100 fields, each an async resolver that loads one key; 30% of
 * the loads repeat a key already loaded, so 70 distinct keys reach one call of the batch
 * function. Ours runs inside a scope opened per request by `runInCacheScope` (its cost is
 * counted); DataLoader's side creates its loader per request, as its README asks.
 *
 * Issue 25: the same workload with a database that returns its rows in its own order (by id,
 * descending) and none for some keys. Ours answers with `new Map(rows.map((r) => [r.id, r]))`;
 * DataLoader's batch function reorders by hand, through the same `Map`, into one slot per key
 * (`ids.map((id) => byId.get(id) ?? null)`): the cheapest reorder there is, so the figure is
 * what the library's own lookup costs against writing it out.
 */
import assert from "node:assert/strict";
import { do_not_optimize, measure } from "mitata";
import DataLoader from "dataloader";
import { perRequestBatch, runInCacheScope } from "../mod.ts";
import {
  type Check,
  medianRatio,
  mitataTiming,
  ratioCheck,
  type Row,
  rowOf,
  type Section,
} from "./_section.ts";

interface User {
  readonly id: number;
}

const LOADS = 100;
const DISTINCT = 70;

/** The keys one request loads: 70 distinct ids, then 30 repeats of earlier ones, shuffled. */
const keys: readonly number[] = (() => {
  const list = Array.from({ length: DISTINCT }, (_, i) => i + 1);
  for (let i = 0; i < LOADS - DISTINCT; i++) list.push(((i * 7) % DISTINCT) + 1);
  // A fixed shuffle (a linear congruential generator), so every run loads the same order.
  let seed = 42;
  for (let i = list.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const j = seed % (i + 1);
    [list[i], list[j]] = [list[j], list[i]];
  }
  return list;
})();

let batchCalls = 0;
let keysSent = 0;
/** The database: one round trip answers every key, in order. */
async function usersByIds(ids: readonly number[]): Promise<User[]> {
  batchCalls++;
  keysSent += ids.length;
  return ids.map((id) => ({ id }));
}

const getUser = perRequestBatch(usersByIds);

/** The rows a `WHERE id IN (…)` returns: the database's order, and no row for every 10th id. */
function selectRows(ids: readonly number[]): User[] {
  batchCalls++;
  keysSent += ids.length;
  const rows: User[] = [];
  for (const id of ids) if (id % 10 !== 0) rows.push({ id });
  return rows.sort((a, b) => b.id - a.id);
}

const getUserFromMap = perRequestBatch(async (ids: readonly number[]) => {
  const rows = selectRows(ids);
  return new Map(rows.map((r) => [r.id, r]));
});

/** DataLoader's batch function: the same rows, put back in the order of the keys by hand. */
async function usersInKeyOrder(ids: readonly number[]): Promise<(User | null)[]> {
  const rows = selectRows(ids);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id) ?? null);
}
const request = { url: "http://localhost/graphql" };

/** The resolvers of one request: each field loads its user and reads it. */
async function resolveAll(load: (id: number) => Promise<User>): Promise<number> {
  const ids = await Promise.all(keys.map(async (key) => (await load(key)).id));
  return ids.length;
}

/**
 * The same resolvers for users that may have no row. A function of their own, so that the
 * Map-answer pair does not change what the engine learns about the N+1 pair's resolvers.
 */
async function resolveAllOrMissing(
  load: (id: number) => Promise<User | null | undefined>,
): Promise<number> {
  const ids = await Promise.all(keys.map(async (key) => (await load(key))?.id ?? 0));
  return ids.length;
}

const OURS = "perRequestBatch: request of 100 loads (scope opened per request)";
const THEIRS = "DataLoader per request: request of 100 loads";
const THEIRS_IN_SCOPE = "DataLoader per request, inside runInCacheScope: 100 loads";
const OURS_MAP = "perRequestBatch, Map answer: request of 100 loads, rows in any order";
const THEIRS_REORDER = "DataLoader per request, reordered by hand: 100 loads, same rows";

const cases: readonly { name: string; body(): Promise<number> }[] = [
  { name: OURS, body: () => runInCacheScope(request, () => resolveAll(getUser)) },
  {
    name: THEIRS,
    body: () => {
      const loader = new DataLoader<number, User>(usersByIds);
      return resolveAll((id) => loader.load(id));
    },
  },
  {
    // The floor under ours: what the scope's async context costs the same resolvers (every
    // promise and await inside a context carries it), with DataLoader doing the batching.
    name: THEIRS_IN_SCOPE,
    body: () =>
      runInCacheScope(request, () => {
        const loader = new DataLoader<number, User>(usersByIds);
        return resolveAll((id) => loader.load(id));
      }),
  },
  {
    name: OURS_MAP,
    body: () => runInCacheScope(request, () => resolveAllOrMissing(getUserFromMap)),
  },
  {
    name: THEIRS_REORDER,
    body: () => {
      const loader = new DataLoader<number, User | null>(usersInKeyOrder);
      return resolveAllOrMissing((id) => loader.load(id));
    },
  },
];

/** The batching section: time per request, ours over DataLoader's. */
export const batchSection: Section = {
  title: "Batching: an N+1 resolver workload, and Map answers (issues 13, 25)",

  async measure(rounds) {
    await this.smoke();
    const perRound = new Map<string, number[]>(cases.map(({ name }) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const { name, body } of cases) {
        const stats = await measure(async () => do_not_optimize(await body()), { ...mitataTiming });
        perRound.get(name)!.push(stats.p50);
      }
    }
    const rows: Row[] = cases.map(({ name }) => rowOf(name, perRound.get(name)!));
    const ours = perRound.get(OURS)!;
    const theirs = perRound.get(THEIRS)!;
    const checks: Check[] = [
      ratioCheck(
        "perRequestBatch / DataLoader per request (time per request)",
        medianRatio(ours, theirs),
        1,
      ),
      ratioCheck(
        "perRequestBatch / DataLoader per request inside runInCacheScope",
        medianRatio(ours, perRound.get(THEIRS_IN_SCOPE)!),
        undefined,
      ),
      ratioCheck(
        "perRequestBatch Map answer / DataLoader with a hand-written reorder",
        medianRatio(perRound.get(OURS_MAP)!, perRound.get(THEIRS_REORDER)!),
        1,
      ),
    ];
    return {
      rows,
      checks,
      notes: [
        `One request: ${LOADS} loads, ${DISTINCT} distinct keys, one batch. ns/op is per request.`,
        `Map answer: rows by id descending, none for ${
          keys.filter((key, i) => key % 10 === 0 && keys.indexOf(key) === i).length
        } of the keys; DataLoader's side reorders through the same Map.`,
      ],
    };
  },

  async smoke() {
    for (const { name, body } of cases) {
      for (let i = 0; i < 3; i++) {
        const [calls, sent] = [batchCalls, keysSent];
        assert.equal(await body(), LOADS);
        assert.equal(batchCalls - calls, 1, `${name}: one batch per request`);
        assert.equal(keysSent - sent, DISTINCT, `${name}: each distinct key sent once`);
      }
    }
  },
};
