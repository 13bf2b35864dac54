/**
 * Tags: `perRequestCache(fn, { tags })` and `invalidateTags(...tags)`, the read-your-writes rule
 * (README, "Invalidation").
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { invalidateTags, perRequestBatch, perRequestCache, runInCacheScope } from "../../mod.ts";

/** A tiny store the cached functions read, with a count of reads. */
function userStore() {
  const names = new Map([[1, "Ada"], [2, "Linus"]]);
  const teams = new Map([[1, "core"], [2, "docs"]]);
  const reads = { users: 0, teams: 0, greetings: 0 };
  const getUser = perRequestCache(async (id: number) => {
    reads.users++;
    return { id, name: names.get(id) };
  }, { name: "getUser", tags: (id) => [`user:${id}`] });
  const getTeamOf = perRequestCache((id: number) => {
    reads.teams++;
    return teams.get(id);
  }, { name: "getTeamOf", tags: (id) => [`user:${id}`, "teams"] });
  const greet = perRequestCache((id: number, greeting: string) => {
    reads.greetings++;
    return `${greeting}, ${names.get(id)}`;
  }, { name: "greet", tags: (id) => [`user:${id}`] });
  return { names, teams, reads, getUser, getTeamOf, greet };
}

test("invalidateTags drops the tagged entries of every function, so the next read sees the write", async () => {
  const { names, reads, getUser, getTeamOf, greet } = userStore();
  await runInCacheScope({ url: "/rename" }, async (scope) => {
    assert.equal((await getUser(1)).name, "Ada");
    assert.equal(getTeamOf(1), "core");
    assert.equal(greet(1, "Hello"), "Hello, Ada");
    assert.equal((await getUser(2)).name, "Linus");
    names.set(1, "Grace");
    assert.equal(invalidateTags("user:1"), 3);
    assert.equal((await getUser(1)).name, "Grace");
    assert.equal(greet(1, "Hello"), "Hello, Grace");
    assert.equal(getTeamOf(1), "core");
    assert.equal((await getUser(2)).name, "Linus"); // not tagged user:1: still cached
    assert.deepEqual(reads, { users: 3, teams: 2, greetings: 2 });
    assert.equal(scope.stats.entries, 4);
  });
});

test("an entry carrying several of the tags counts once, and a tag nobody carries drops nothing", () => {
  const { getTeamOf } = userStore();
  runInCacheScope({}, () => {
    getTeamOf(1);
    getTeamOf(2);
    assert.equal(invalidateTags("user:1", "teams", "user:1"), 2);
    assert.equal(invalidateTags("teams"), 0);
    assert.equal(invalidateTags("nobody"), 0);
    assert.equal(invalidateTags(), 0);
  });
});

test("tags are evaluated once, on the miss, with the call's arguments", () => {
  const seen: unknown[][] = [];
  const double = perRequestCache((n: number) => n * 2, {
    tags: (...args) => {
      seen.push(args);
      return ["numbers"];
    },
  });
  runInCacheScope({}, () => {
    double(1);
    double(1);
    double(2);
    assert.deepEqual(seen, [[1], [2]]);
    assert.equal(invalidateTags("numbers"), 2);
    double(1);
    assert.deepEqual(seen, [[1], [2], [1]]);
  });
});

test("an entry still in flight is dropped by its tag, and its late settle does not store it back", async () => {
  const runs: PromiseWithResolvers<string>[] = [];
  const load = perRequestCache((_id: number) => {
    const run = Promise.withResolvers<string>();
    runs.push(run);
    return run.promise;
  }, { tags: (id) => [`row:${id}`], cacheRejections: true });
  await runInCacheScope({}, async (scope) => {
    const first = load(1);
    const rejected = load(2);
    assert.equal(invalidateTags("row:1", "row:2"), 2);
    assert.equal(scope.stats.entries, 0);
    const second = load(1); // runs again: the first one was dropped
    assert.notEqual(second, first);
    runs[0].resolve("stale");
    runs[1].reject(new Error("gone"));
    await Promise.allSettled([first, rejected]);
    assert.equal(load(1), second, "the entry stored anew survives the old promise's settle");
    assert.equal(scope.stats.entries, 1, "neither late settle came back");
    runs[2].resolve("fresh");
    assert.equal(await second, "fresh");
    assert.equal(load(1), second); // settled by now: a hit
    assert.deepEqual(
      [scope.stats.misses, scope.stats.joins, scope.stats.hits],
      [3, 1, 1],
    );
  });
});

test("a function that writes while it computes can drop its own entry: the result is returned, not stored", () => {
  let runs = 0;
  const saveAndRead = perRequestCache((id: number) => {
    runs++;
    invalidateTags(`user:${id}`);
    return runs;
  }, { tags: (id) => [`user:${id}`] });
  runInCacheScope({}, (scope) => {
    assert.equal(saveAndRead(1), 1);
    assert.equal(scope.stats.entries, 0);
    assert.equal(saveAndRead(1), 2);
  });
});

test("a primed entry carries the tags of its arguments", () => {
  const { getTeamOf } = userStore();
  runInCacheScope({}, () => {
    assert.equal(getTeamOf.prime([1], "primed"), true);
    assert.equal(getTeamOf(1), "primed");
    assert.equal(invalidateTags("user:1"), 1);
    assert.equal(getTeamOf(1), "core");
  });
});

test("an entry that left by invalidate or eviction leaves its tags: a later entry under the same key is not dropped by them", () => {
  let tagged = true;
  const lookup = perRequestCache((id: number) => `value ${id}`, {
    tags: () => tagged ? ["old"] : [],
    maxEntries: 1,
  });
  runInCacheScope({}, (scope) => {
    lookup(1);
    assert.equal(lookup.invalidate(1), true);
    lookup(2); // tagged "old"
    lookup(3); // evicts 2
    tagged = false;
    lookup(2); // stored anew, untagged
    assert.equal(invalidateTags("old"), 0);
    assert.equal(scope.stats.entries, 1);
  });
});

test("invalidateTags reaches only the current request's scope, and outside any scope drops nothing", async () => {
  const { getUser, reads } = userStore();
  const other = Promise.withResolvers<void>();
  const invalidated = Promise.withResolvers<void>();
  const [mine, theirs] = await Promise.all([
    runInCacheScope({ url: "/mine" }, async () => {
      await getUser(1);
      await other.promise;
      const dropped = invalidateTags("user:1");
      invalidated.resolve();
      await getUser(1);
      return dropped;
    }),
    runInCacheScope({ url: "/theirs" }, async (scope) => {
      await getUser(1);
      other.resolve();
      await invalidated.promise;
      await getUser(1); // still this request's entry
      return scope.stats;
    }),
  ]);
  assert.equal(mine, 1);
  assert.deepEqual([theirs.hits, theirs.misses, theirs.entries], [1, 1, 1]);
  assert.equal(reads.users, 3);
  assert.equal(invalidateTags("user:1"), 0);
});

test("tags that are not an array of strings, or that throw, make the call throw: the function does not run and nothing is stored", () => {
  let runs = 0;
  let tags: () => unknown = () => "user:1";
  const getUser = perRequestCache((id: number) => ({ id, run: ++runs }), {
    name: "getUser",
    tags: () => tags() as string[],
  });
  runInCacheScope({}, (scope) => {
    assert.throws(() => getUser(1), {
      name: "TypeError",
      message:
        'Cannot call getUser: its tags option must return an array of strings, received the string "user:1"; nothing was stored',
    });
    tags = () => ["user:1", 1];
    assert.throws(() => getUser(1), {
      name: "TypeError",
      message:
        "Cannot call getUser: its tags option must return an array of strings, received an array holding number 1; nothing was stored",
    });
    assert.throws(() => getUser.prime([1], { id: 1, run: 0 }), {
      name: "TypeError",
      message:
        "Cannot call getUser: its tags option must return an array of strings, received an array holding number 1; nothing was stored",
    });
    const failure = new Error("tags failed");
    tags = () => {
      throw failure;
    };
    assert.throws(() => getUser(1), failure);
    assert.deepEqual([runs, scope.stats.entries, scope.stats.misses], [0, 0, 0]);
    tags = () => ["user:1"];
    assert.equal(getUser(1).run, 1);
  });
});

test("the array a tags option returns may be reused and changed: the entry keeps the tags it had", () => {
  const shared = ["a"];
  const fn = perRequestCache((n: number) => n, { tags: () => shared });
  runInCacheScope({}, () => {
    fn(1);
    shared[0] = "b";
    fn(2);
    assert.equal(invalidateTags("a"), 1);
    assert.equal(invalidateTags("b"), 1);
  });
});

test("tags across perRequestCache and perRequestBatch: one invalidateTags drops entries of both, waiting in a batch or in flight", async () => {
  const names = new Map([[1, "Ada"], [2, "Linus"]]);
  const sent: number[][] = [];
  const gate = Promise.withResolvers<void>();
  let dispatched = Promise.withResolvers<void>();
  const getUser = perRequestBatch(async (ids: readonly number[]) => {
    sent.push([...ids]);
    const rows = ids.map((id) => names.get(id)); // read when the batch runs
    dispatched.resolve();
    await gate.promise;
    return rows;
  }, { name: "getUser", tags: (id) => [`user:${id}`] });
  const greet = perRequestCache((id: number) => `Hello, ${names.get(id)}`, {
    tags: (id) => [`user:${id}`],
  });
  await runInCacheScope({}, async (scope) => {
    const waiting = getUser(1);
    const other = getUser(2);
    assert.equal(greet(1), "Hello, Ada");
    assert.equal(
      invalidateTags("user:1"),
      2,
      "the key waiting in the batch and the cached greeting",
    );
    assert.equal(scope.stats.entries, 1);
    // The batch has not run, so its answer will not be stale: the key is not sent twice.
    assert.equal(getUser(1), waiting);
    await dispatched.promise;
    dispatched = Promise.withResolvers();
    names.set(1, "Grace"); // the write, while the batch is in flight
    assert.equal(invalidateTags("user:1"), 1, "the key back in the batch, now in flight");
    const fresh = getUser(1);
    assert.notEqual(fresh, waiting);
    assert.equal(greet(1), "Hello, Grace");
    gate.resolve();
    assert.deepEqual(await Promise.all([waiting, other, fresh]), ["Ada", "Linus", "Grace"]);
    assert.equal(getUser(1), fresh, "the in-flight answer was not stored back over the fresh one");
    assert.equal(invalidateTags("user:2"), 1);
    assert.deepEqual(scope.stats.functions.map(({ name, entries }) => [name, entries]), [
      ["getUser", 1],
      ["anonymous", 1],
    ]);
  });
  assert.deepEqual(sent, [[1, 2], [1]]);
});

test("a primed batch entry carries the tags of its key", () => {
  const getUser = perRequestBatch((ids: readonly number[]) => ids.map((id) => ({ id })), {
    tags: (id) => [`user:${id}`],
  });
  runInCacheScope({}, () => {
    assert.equal(getUser.prime(1, { id: 1 }), true);
    assert.equal(invalidateTags("user:1"), 1);
    assert.equal(getUser.prime(1, { id: 1 }), true, "the key is free again");
  });
});
