/**
 * `cacheRejections` as a predicate: some errors are answers (kept for the request), others are
 * retried; a predicate that throws keeps nothing and is reported once.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { perRequestBatch, perRequestCache, runInCacheScope } from "../../mod.ts";

class HttpError extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`HTTP ${status}`);
    this.status = status;
  }
}

/** A lookup that fails with the next status of `statuses` (then succeeds), counting its runs. */
function failingLookup(
  statuses: number[],
  cacheRejections: boolean | ((error: unknown) => boolean),
) {
  let runs = 0;
  const lookup = perRequestCache(async (id: number) => {
    runs++;
    const status = statuses.shift();
    if (status !== undefined) throw new HttpError(status);
    return { id };
  }, { name: "lookup", cacheRejections });
  return { lookup, runs: () => runs };
}

/** Runs `body` with console.error captured; gives back what was reported. */
async function capturingErrors(body: () => Promise<void>): Promise<unknown[][]> {
  const reported: unknown[][] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => reported.push(args);
  try {
    await body();
  } finally {
    console.error = error;
  }
  return reported;
}

const notFoundIsAnAnswer = (error: unknown) => error instanceof HttpError && error.status === 404;

test("with a predicate, a rejection it accepts stays cached for the request", async () => {
  const { lookup, runs } = failingLookup([404], notFoundIsAnAnswer);
  await runInCacheScope({}, async (scope) => {
    const first = lookup(1);
    await assert.rejects(first, { status: 404 });
    assert.equal(lookup(1), first, "the same rejected promise, not a new run");
    await assert.rejects(lookup(1), { status: 404 });
    assert.equal(runs(), 1);
    assert.deepEqual([scope.stats.misses, scope.stats.hits, scope.stats.entries], [1, 2, 1]);
  });
});

test("with a predicate, a rejection it refuses is dropped, so the next call retries", async () => {
  const { lookup, runs } = failingLookup([503], notFoundIsAnAnswer);
  await runInCacheScope({}, async (scope) => {
    await assert.rejects(lookup(1), { status: 503 });
    assert.deepEqual(await lookup(1), { id: 1 });
    assert.equal(runs(), 2);
    assert.deepEqual([scope.stats.misses, scope.stats.entries], [2, 1]);
  });
});

test("only a predicate's true keeps a rejection: a truthy answer does not", async () => {
  const { lookup, runs } = failingLookup([404], () => 1 as unknown as boolean);
  await runInCacheScope({}, async () => {
    await assert.rejects(lookup(1), { status: 404 });
    assert.deepEqual(await lookup(1), { id: 1 });
    assert.equal(runs(), 2);
  });
});

test("a predicate that throws: the call rejects with its own error, nothing is cached, and the predicate's error is reported once per function", async () => {
  const bug = new TypeError("error.response is undefined");
  const predicate = () => {
    throw bug;
  };
  const { lookup, runs } = failingLookup([500, 500, 500], predicate);
  const other = failingLookup([500], predicate);
  const reported = await capturingErrors(async () => {
    await runInCacheScope({}, async (scope) => {
      await assert.rejects(lookup(1), { status: 500 });
      await assert.rejects(lookup(1), { status: 500 }); // retried: nothing was cached
      await assert.rejects(lookup(1), { status: 500 });
      assert.equal(runs(), 3);
      assert.equal(scope.stats.entries, 0);
      await assert.rejects(other.lookup(1), { status: 500 });
    });
  });
  const message =
    "@reqcache/core: the cacheRejections predicate of lookup threw, so the rejection was not cached and the next call retries; make the predicate return true or false for every error (this is reported once per function)";
  assert.deepEqual(reported, [[message, bug], [message, bug]]);
});

test("a synchronous throw is never stored and never shown to the predicate", () => {
  const seen: unknown[] = [];
  let runs = 0;
  const parse = perRequestCache((text: string) => {
    runs++;
    if (text === "") throw new SyntaxError("empty");
    return text.length;
  }, {
    cacheRejections: (error) => {
      seen.push(error);
      return true;
    },
  });
  runInCacheScope({}, (scope) => {
    assert.throws(() => parse(""), SyntaxError);
    assert.throws(() => parse(""), SyntaxError);
    assert.equal(runs, 2);
    assert.equal(scope.stats.entries, 0);
  });
  assert.deepEqual(seen, []);
});

test("cacheRejections: true still keeps every rejection, and false drops every one", async () => {
  const kept = failingLookup([503], true);
  const dropped = failingLookup([404], false);
  await runInCacheScope({}, async () => {
    await assert.rejects(kept.lookup(1), { status: 503 });
    await assert.rejects(kept.lookup(1), { status: 503 });
    await assert.rejects(dropped.lookup(1), { status: 404 });
    assert.deepEqual(await dropped.lookup(1), { id: 1 });
  });
  assert.deepEqual([kept.runs(), dropped.runs()], [1, 2]);
});

test("perRequestBatch takes the same predicate: a kept rejection is not sent again, a refused one is", async () => {
  const sent: number[][] = [];
  const statuses = new Map([[1, 404], [2, 503]]);
  const getUser = perRequestBatch((ids: readonly number[]) => {
    sent.push([...ids]);
    return ids.map((id) => {
      const status = statuses.get(id);
      statuses.delete(id);
      return status === undefined ? { id } : new HttpError(status);
    });
  }, { name: "getUser", cacheRejections: notFoundIsAnAnswer });
  await runInCacheScope({}, async (scope) => {
    assert.deepEqual(await getUser.many([1, 2, 3]), [
      new HttpError(404),
      new HttpError(503),
      { id: 3 },
    ]);
    await assert.rejects(getUser(1), { status: 404 }); // kept: a hit
    assert.deepEqual(await getUser(2), { id: 2 }); // retried
    assert.deepEqual([scope.stats.hits, scope.stats.misses, scope.stats.entries], [1, 4, 3]);
  });
  assert.deepEqual(sent, [[1, 2, 3], [2]]);
});

test("perRequestBatch with a throwing predicate: the load rejects with its own error, nothing is cached, reported once", async () => {
  const bug = new TypeError("error.response is undefined");
  const sent: number[][] = [];
  const getUser = perRequestBatch(async (ids: readonly number[]) => {
    sent.push([...ids]);
    return ids.map(() => new HttpError(500));
  }, {
    name: "getUser",
    cacheRejections: () => {
      throw bug;
    },
  });
  const reported = await capturingErrors(async () => {
    await runInCacheScope({}, async (scope) => {
      await assert.rejects(getUser(1), { status: 500 });
      await assert.rejects(getUser(1), { status: 500 }); // retried: nothing was cached
      assert.equal(scope.stats.entries, 0);
    });
  });
  assert.deepEqual(sent, [[1], [1]]);
  const message =
    "@reqcache/core: the cacheRejections predicate of getUser threw, so the rejection was not cached and the next call retries; make the predicate return true or false for every error (this is reported once per function)";
  assert.deepEqual(reported, [[message, bug]]);
});
