/**
 * The isolation workload for handlers that run inside a scope a server integration opened
 * (`cacheScope()`, `withCacheScope`, `withListenerCacheScope`, or a handler's own `using`).
 *
 * Every value a cached function returns carries the token of the request it ran for, read from
 * `currentScope()?.request` when it ran (never from a closure or an argument), and every real
 * execution is counted per token. So a request answered from another request's entry sees a
 * foreign token, and a request whose entry was shared or lost shows a count other than one.
 * `leakyMemoize` feeds the same checks a cache that does leak, to show that they catch it.
 */
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { type CacheScope, type CacheScopeStats, currentScope, perRequestCache } from "../../mod.ts";
import { driveLoad } from "./_load.ts";

/**
 * The test options of a 2,000-request load: `bun test` stops a test after 5 s by default, and
 * on a busy 2-core machine a load takes longer than that (the load's own deadline is 25 s).
 */
export const LOAD_TIME_LIMIT: { timeout: number } = { timeout: 30_000 };

/** Rounds of calls per request; every round repeats the same calls. */
const ROUNDS = 2;

/** What one handler saw; the client checks it against what it sent. */
export interface Report {
  /** The token the handler read from its own request's header. */
  token: string;
  /** The token inside every value a cached function gave this request, in call order. */
  reads: string[];
  /** How many calls the handler made to cached functions, hits and joins included. */
  calls: number;
  scopeId: string;
  stats: CacheScopeStats;
  /** Whether the current scope was this request's after every `await`. */
  ownScopeThroughout: boolean;
}

/** A way to cache a function: `perRequestCache`, or a deliberately broken stand-in. */
export type Memoize = <A extends unknown[], R>(fn: (...args: A) => R) => (...args: A) => R;

/** A process-wide memo: the bug the isolation tests exist to catch. */
export const leakyMemoize: Memoize = (fn) => {
  const memo = new Map<string, ReturnType<typeof fn>>();
  return (...args) => {
    const key = JSON.stringify(args);
    if (!memo.has(key)) memo.set(key, fn(...args));
    return memo.get(key)!;
  };
};

/** The token of a request: its `x-token` header, whichever shape the server gave it. */
export function tokenOf(request: object | undefined): string {
  if (request === undefined) return "<no scope>";
  const headers = (request as { headers?: unknown }).headers;
  if (headers instanceof Headers || typeof (headers as Headers)?.get === "function") {
    return (headers as Headers).get("x-token") ?? "<no token>";
  }
  const header = (headers as Record<string, unknown> | undefined)?.["x-token"];
  return typeof header === "string" ? header : "<no token>";
}

/** The request number a URL carries in `?seq=`. */
export function seqOf(url: string): number {
  return Number(new URL(url, "http://127.0.0.1").searchParams.get("seq"));
}

/** The workload, its record of executions and scopes, and the load that checks them. */
export interface Workload {
  /** The handler's body: call the cached functions inside the current scope, report. */
  work(token: string, seq: number): Promise<Report>;
  /** Sends `total` requests to `url` and returns one line per problem found. */
  load(url: string, options?: LoadShape): Promise<LoadOutcome>;
}

/** How big a load is: the tests' 2,000 requests, or the soak's 20,000. */
export interface LoadShape {
  /**
   * Requests in all.
   *
   * @default {2_000}
   */
  total?: number;
  /**
   * Requests in flight at once.
   *
   * @default {100}
   */
  concurrency?: number;
  /**
   * Milliseconds after which the requests still in flight are aborted and the load fails.
   *
   * @default {25_000}
   */
  deadline?: number;
}

/** What a load found. */
export interface LoadOutcome {
  problems: string[];
  reports: Report[];
  /** The highest number of handlers that were running at once. */
  maxInFlight: number;
}

export function isolationWorkload(memoize: Memoize = perRequestCache as Memoize): Workload {
  const executions = new Map<string, Map<string, number>>();
  const scopes: CacheScope[] = [];
  let inFlight = 0;
  let maxInFlight = 0;

  function ran(call: string): string {
    const token = tokenOf(currentScope()?.request);
    let calls = executions.get(token);
    if (calls === undefined) executions.set(token, calls = new Map());
    calls.set(call, (calls.get(call) ?? 0) + 1);
    return token;
  }

  // Shared arguments (many requests ask for user 3, or for the flags) and per-request ones (a
  // session); sync and async; one, two and zero arguments.
  const getUser = memoize((id: number) => ({ id, token: ran(`getUser(${id})`) }));
  const canRead = memoize((userId: number, resource: string) => ({
    allowed: userId % 2 === 0,
    token: ran(`canRead(${userId},${resource})`),
  }));
  const getOrders = memoize(async (userId: number, page: number) => {
    const token = ran(`getOrders(${userId},${page})`);
    await delay(Math.random() * 3);
    // Read again after the await: the scope must have followed the continuation.
    return { token, tokenAfterAwait: tokenOf(currentScope()?.request) };
  });
  const getSession = memoize(async (session: string) => {
    const token = ran(`getSession(${session})`);
    await delay(Math.random() * 2);
    return { token, tokenAfterAwait: tokenOf(currentScope()?.request) };
  });
  const getFlags = memoize(async () => {
    const token = ran("getFlags()");
    await delay(Math.random() * 2);
    return { token, tokenAfterAwait: tokenOf(currentScope()?.request) };
  });

  /** The calls request `seq` makes, each exactly once: what its executions must be. */
  function expectedCalls(seq: number): Map<string, number> {
    return new Map([
      [`getUser(${seq % 7})`, 1],
      [`canRead(${seq % 7},orders)`, 1],
      [`getOrders(${seq % 5},0)`, 1],
      [`getOrders(${seq % 5},1)`, 1],
      [`getSession(s${seq})`, 1],
      ["getFlags()", 1],
    ]);
  }

  async function work(token: string, seq: number): Promise<Report> {
    const scope = currentScope();
    if (scope === undefined) throw new Error(`request ${seq} has no scope`);
    scopes.push(scope);
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    const reads: string[] = [];
    let calls = 0;
    let ownScopeThroughout = true;
    const settle = async (ms: number) => {
      await delay(Math.random() * ms);
      if (currentScope()?.id !== scope.id) ownScopeThroughout = false;
    };
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const user = getUser(seq % 7);
        // Same arguments, same request: the same stored object, synchronously.
        if (getUser(seq % 7) !== user) reads.push("<getUser returned a second object>");
        reads.push(user.token, canRead(seq % 7, "orders").token);
        calls += 3;
        await settle(3);
        // Two concurrent calls with equal arguments share one in-flight promise.
        const [a, b] = await Promise.all([
          getOrders(seq % 5, round % 2),
          getOrders(seq % 5, round % 2),
        ]);
        if (a !== b) reads.push("<getOrders resolved to two objects>");
        reads.push(a.token, a.tokenAfterAwait);
        calls += 2;
        await settle(2);
        const [session, flags] = await Promise.all([getSession(`s${seq}`), getFlags()]);
        reads.push(session.token, session.tokenAfterAwait, flags.token, flags.tokenAfterAwait);
        calls += 2;
        await settle(2);
      }
      return { token, reads, calls, scopeId: scope.id, stats: scope.stats, ownScopeThroughout };
    } finally {
      inFlight--;
    }
  }

  async function load(
    url: string,
    { total = 2_000, concurrency = 100, deadline = 25_000 }: LoadShape = {},
  ): Promise<LoadOutcome> {
    const run = crypto.randomUUID().slice(0, 8);
    const tokenFor = (seq: number) => `${run}-${seq}`;
    const sep = url.includes("?") ? "&" : "?";
    const reports = await driveLoad(async (seq, signal) => {
      const response = await fetch(`${url}${sep}seq=${seq}`, {
        headers: { "x-token": tokenFor(seq) },
        signal,
      });
      const body = await response.text();
      if (response.status !== 200) {
        throw new Error(`Request ${seq} failed with ${response.status}: ${body}`);
      }
      return JSON.parse(body) as Report;
    }, { total, concurrency, deadline });

    const problems: string[] = [];
    const distinct = expectedCalls(0).size;
    reports.forEach((report, seq) => {
      const token = tokenFor(seq);
      if (report.token !== token) problems.push(`request ${seq} read the header ${report.token}`);
      const foreign = new Set(report.reads.filter((read) => read !== token));
      if (foreign.size > 0) {
        problems.push(`cross-request read: request ${seq} got ${brief([...foreign])}`);
      }
      const calls = executions.get(token) ?? new Map();
      if (!sameCounts(calls, expectedCalls(seq))) {
        problems.push(
          `request ${seq} ran ${brief([...calls])}, not each of its calls exactly once`,
        );
      }
      // Calls that shared an in-flight promise are joins, the others hits: together, every
      // call that did not run the function.
      const { hits, misses, joins, entries } = report.stats;
      if (
        misses !== distinct || hits + joins !== report.calls - distinct || entries !== distinct
      ) {
        const stats = JSON.stringify({ hits, misses, joins, entries });
        problems.push(`request ${seq} has stats ${stats}`);
      }
      if (!report.ownScopeThroughout) {
        problems.push(`request ${seq} lost its scope across an await`);
      }
    });
    const ids = new Set(reports.map((report) => report.scopeId));
    if (ids.size !== total) problems.push(`${total} requests shared ${ids.size} scope ids`);
    for (const token of executions.keys()) {
      if (!token.startsWith(`${run}-`)) problems.push(`an execution ran for token ${token}`);
    }
    // A scope may end a moment after the client has read the body (when the server sees the
    // end of it, or the socket close), so wait a little for the last ones.
    const settledBy = Date.now() + 3_000;
    while (scopes.some((scope) => !scope.disposed) && Date.now() < settledBy) await delay(5);
    const open = scopes.filter((scope) => !scope.disposed).length;
    if (scopes.length !== total || open > 0) {
      problems.push(`${scopes.length} scopes for ${total} requests, ${open} not disposed`);
    }
    if (currentScope() !== undefined) problems.push("the client sees a scope");
    return { problems, reports, maxInFlight };
  }

  return { work, load };
}

/** The first few items of a list, for a problem that fits on a line. */
function brief(items: unknown[]): string {
  const shown = JSON.stringify(items.slice(0, 6));
  return items.length > 6 ? `${shown.slice(0, -1)}, … ${items.length - 6} more]` : shown;
}

function sameCounts(actual: Map<string, number>, expected: Map<string, number>): boolean {
  if (actual.size !== expected.size) return false;
  for (const [call, count] of expected) if (actual.get(call) !== count) return false;
  return true;
}

/** Fails on the first problems a load found, and unless its handlers really overlapped. */
export function assertIsolated(outcome: LoadOutcome): void {
  assert.deepEqual(outcome.problems.slice(0, 10), [], `${outcome.problems.length} problems`);
  // The load is only a test of isolation if the handlers really overlapped.
  assert.ok(outcome.maxInFlight > 50, `at most ${outcome.maxInFlight} handlers at once`);
}
