/**
 * What the workerd apps run (bundled into each worker by tests/server/workerd.test.ts): cached functions,
 * the handler body that checks the nesting rules, and the isolate-wide record the test reads back.
 *
 * Every value a cached function returns carries the token of the request whose scope it ran in,
 * read from `currentScope()?.request` when it ran, and every real execution is counted per token
 * here in the isolate. A read from another request's entry shows a foreign token; an entry that
 * was shared or lost shows a count other than one.
 */
import {
  type CacheScope,
  currentScope,
  openCacheScope,
  perRequestCache,
  runInCacheScope,
} from "../../../mod.ts";

/** A pause between calls: `scheduler.wait` in one app, `setTimeout` in the other. */
export type Delay = (ms: number) => Promise<void>;

/** Where a value was read; the test knows which token each place must see. */
export type ReadPlace = "self" | "other" | "none" | "branch0" | "branch1";

/** What one request's handler saw. */
export interface Report {
  /** The token of the request, from its header. */
  token: string;
  /** The token inside every value a cached function gave the handler, and where it was read. */
  reads: [ReadPlace, string][];
  /** Calls the handler made to cached functions in its own scope, hits and joins included. */
  calls: number;
  /** The scope the wrapper (or middleware) opened, as `currentScope()` showed it at the start. */
  scopeId: string | null;
  hits: number;
  misses: number;
  /** Calls that shared an entry still in flight. */
  joins: number;
  entries: number;
  /** Named checks of the nesting rules; each must be true. */
  checks: Record<string, boolean>;
}

/** The record a test reads back through `/_record`: token → call → executions. */
export interface IsolateRecord {
  executions: Record<string, Record<string, number>>;
  /** Scopes the handlers saw open whose end was not seen yet. */
  live: number;
  /** The most `/work` handlers that were running at once. */
  maxInFlight: number;
}

/** Header token of a scope's request; `<none>` for a scope opened for no request. */
function tokenOf(request: object | undefined): string {
  if (request === undefined) return "<none>";
  if (request instanceof Request) return request.headers.get("x-token") ?? "<no token>";
  return "<not a Request>";
}

const executions = new Map<string, Map<string, number>>();
const liveScopes = new Set<string>();
/** Tokens whose request scope has ended (its `onEnd` ran). */
const endedTokens = new Set<string>();
/** Tokens whose streaming response may send its last chunk. */
const releasedTokens = new Set<string>();
let inFlight = 0;
let maxInFlight = 0;

function ran(call: string): string {
  const token = tokenOf(currentScope()?.request);
  let calls = executions.get(token);
  if (calls === undefined) executions.set(token, calls = new Map());
  calls.set(call, (calls.get(call) ?? 0) + 1);
  return token;
}

/** Records a scope as live until it ends; `token` names it for `/ended`. */
function track(scope: CacheScope, token?: string): void {
  liveScopes.add(scope.id);
  scope.onEnd(() => {
    liveScopes.delete(scope.id);
    if (token !== undefined) endedTokens.add(token);
  });
}

/** Arguments shared across requests (users 0–6, orders of users 0–4, the flags) and one of its own. */
export function expectedCalls(seq: number): Record<string, number> {
  return {
    [`getUser(${seq % 7})`]: 1,
    [`getOrders(${seq % 5},0)`]: 1,
    [`getOrders(${seq % 5},1)`]: 1,
    [`getSession(s${seq})`]: 1,
    ["getFlags()"]: 1,
  };
}

/** Builds the cached functions and the handler body around one way to pause. */
export function workload(delay: Delay): {
  work: (request: Request, seq: number) => Promise<Report>;
  stream: (request: Request, seq: number) => Response;
  fail: (request: Request, seq: number) => Promise<never>;
} {
  const pause = (ms: number) => delay(Math.random() * ms);
  const getUser = perRequestCache((id: number) => ({ id, token: ran(`getUser(${id})`) }));
  const getOrders = perRequestCache(async (userId: number, page: number) => {
    const token = ran(`getOrders(${userId},${page})`);
    await pause(3);
    return { userId, page, token, tokenAfterAwait: tokenOf(currentScope()?.request) };
  });
  const getSession = perRequestCache(async (session: string) => {
    const token = ran(`getSession(${session})`);
    await pause(2);
    return { session, token };
  });
  const getFlags = perRequestCache(async () => {
    const token = ran("getFlags()");
    await pause(2);
    return { token };
  });

  async function work(request: Request, seq: number): Promise<Report> {
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    try {
      return await checkedWork(request, seq);
    } finally {
      inFlight--;
    }
  }

  async function checkedWork(request: Request, seq: number): Promise<Report> {
    const token = tokenOf(request);
    const wrapper = currentScope();
    const checks: Record<string, boolean> = {
      wrapperScopeIsThisRequests: wrapper !== undefined && tokenOf(wrapper.request) === token,
    };
    if (wrapper !== undefined) track(wrapper);
    const reads: [ReadPlace, string][] = [];
    let calls = 0;

    using scope = openCacheScope(request);
    checks.usingJoinsTheWrappersScope = scope.id === wrapper?.id;
    checks.ownScopeAfterEveryAwait = true;
    const settle = async (ms: number) => {
      await pause(ms);
      if (currentScope()?.id !== scope.id) checks.ownScopeAfterEveryAwait = false;
    };

    const user = getUser(seq % 7);
    checks.syncHitIsTheSameObject = getUser(seq % 7) === user;
    reads.push(["self", user.token]);
    calls += 2;
    await settle(3);

    // Another request's scope inside this one: a cache of its own, then this one again.
    {
      const other = new Request("http://other.invalid/", {
        headers: { "x-token": `${token}/other` },
      });
      using nested = openCacheScope(other);
      track(nested);
      checks.otherRequestIsIsolated = nested.id !== scope.id && currentScope()?.id === nested.id;
      reads.push(["other", getUser(seq % 7).token]);
      await pause(2);
      checks.otherRequestIsolatedAfterAwait = currentScope()?.id === nested.id;
    }
    checks.outerCurrentAfterOther = currentScope()?.id === scope.id;
    {
      using none = openCacheScope();
      track(none);
      checks.noRequestIsIsolated = none.id !== scope.id && none.request === undefined;
      const flags = await getFlags();
      reads.push(["none", flags.token]);
      checks.noRequestHits = (await getFlags()) === flags;
    }
    checks.outerCurrentAfterNone = currentScope()?.id === scope.id;
    checks.entryKeptAcrossNesting = getUser(seq % 7) === user;
    calls++;

    // Concurrent branches of this request: each joins, and all share one in-flight promise.
    const orders = await Promise.all([0, 1, 0, 1].map(async (page) => {
      using joined = openCacheScope(request);
      await pause(3);
      const joinedOk = joined.id === scope.id && currentScope()?.id === scope.id;
      const result = await getOrders(seq % 5, page);
      return { result, joinedOk, after: currentScope()?.id === scope.id };
    }));
    calls += orders.length;
    checks.concurrentBranchesJoin = orders.every((branch) => branch.joinedOk && branch.after);
    checks.concurrentBranchesShareOnePromise = orders[0].result === orders[2].result &&
      orders[1].result === orders[3].result;
    for (const { result } of orders) {
      reads.push(["self", result.token], ["self", result.tokenAfterAwait]);
    }

    // Concurrent branches for other requests: runInCacheScope gives each a context of its own.
    const branches = await Promise.all(([0, 1] as const).map((i) => {
      const sub = new Request("http://branch.invalid/", {
        headers: { "x-token": `${token}/branch${i}` },
      });
      return runInCacheScope(sub, async (branch) => {
        track(branch);
        await pause(3);
        const value = getUser(seq % 7);
        await pause(2);
        return {
          place: `branch${i}` as const,
          token: value.token,
          own: currentScope()?.id === branch.id && getUser(seq % 7) === value,
        };
      });
    }));
    checks.concurrentOtherRequestsIsolated = branches.every((branch) => branch.own);
    for (const branch of branches) reads.push([branch.place, branch.token]);
    checks.outerCurrentAfterBranches = currentScope()?.id === scope.id;

    const session = await getSession(`s${seq}`);
    checks.sessionHits = (await getSession(`s${seq}`)) === session;
    reads.push(["self", session.token]);
    calls += 2;
    await settle(2);
    const flags = await getFlags();
    reads.push(["self", flags.token]);
    calls++;

    const { hits, misses, joins, entries } = scope.stats;
    const scopeId = wrapper?.id ?? null;
    return { token, reads, calls, scopeId, hits, misses, joins, entries, checks };
  }

  /**
   * A body in three lines, the last one sent only once `/release` has been called for the
   * token, so the test can ask `/ended` while the body is still open.
   */
  function stream(request: Request, seq: number): Response {
    const token = tokenOf(request);
    const scope = currentScope();
    if (scope !== undefined) track(scope, token);
    const user = getUser(seq % 7);
    let line = 0;
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (line === 2) {
          // Bounded: a test that never releases gets the line anyway after ten seconds.
          for (let waited = 0; !releasedTokens.has(token) && waited < 10_000; waited += 5) {
            await delay(5);
          }
        } else {
          await pause(3);
        }
        const report = {
          line,
          scopeId: currentScope()?.id ?? null,
          sameUser: getUser(seq % 7) === user,
          token: getUser(seq % 7).token,
          ended: endedTokens.has(token),
        };
        controller.enqueue(encoder.encode(JSON.stringify(report) + "\n"));
        if (++line === 3) controller.close();
      },
    });
    return new Response(body, { headers: { "content-type": "application/x-ndjson" } });
  }

  /** Uses the cache, then throws after an await. */
  async function fail(request: Request, seq: number): Promise<never> {
    const token = tokenOf(request);
    const scope = currentScope();
    if (scope !== undefined) track(scope, token);
    getUser(seq % 7);
    await pause(2);
    throw new Error(`handler for ${token} failed on purpose`);
  }

  return { work, stream, fail };
}

/** The routes every app shares that read or change the isolate's record. */
export function recordRoute(url: URL): Response | undefined {
  const token = url.searchParams.get("token") ?? "";
  switch (url.pathname) {
    case "/ended":
      return Response.json({ ended: endedTokens.has(token) });
    case "/release":
      releasedTokens.add(token);
      return Response.json({ released: true });
    case "/_record": {
      const record: IsolateRecord = {
        executions: Object.fromEntries(
          [...executions].map(([token, calls]) => [token, Object.fromEntries(calls)]),
        ),
        live: liveScopes.size,
        maxInFlight,
      };
      executions.clear();
      maxInFlight = 0;
      return Response.json(record);
    }
  }
  return undefined;
}
