/**
 * Isolation on real servers: 500 requests, 50 in flight, against `Deno.serve` (Deno only),
 * `Bun.serve` (Bun only) and `node:http` (every runtime), all on 127.0.0.1 and an ephemeral port.
 *
 * Every value a cached function returns carries the token of the request it ran for, read from
 * `currentScope()?.request` when it ran, and every real execution is counted per token. So a
 * request that got another request's entry sees a foreign token, and a request whose entry was
 * shared or lost shows a count other than one. The last test feeds the same checks a cache that
 * does leak, to show they catch it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import {
  type CacheScope,
  type CacheScopeStats,
  currentScope,
  openCacheScope,
  perRequestCache,
  runInCacheScope,
} from "../mod.ts";
import { driveLoad } from "./_load.ts";

const REQUESTS = 500;
const IN_FLIGHT = 50;
/** Rounds of calls per request; every round repeats the same calls. */
const ROUNDS = 3;

const isDeno = "Deno" in globalThis;
const isBun = "Bun" in globalThis;

/** The part of `Bun` this file uses, so that it type-checks without Bun's types. */
interface BunServe {
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request): Response | Promise<Response>;
  }): { readonly port: number; stop(closeActiveConnections?: boolean): Promise<void> };
}
const bun = (globalThis as { Bun?: BunServe }).Bun;

/** What one handler saw; the client checks it against what it sent. */
interface Report {
  /** The token the handler read from its own request's header. */
  token: string;
  /** The token inside every value a cached function gave this request, in call order. */
  reads: string[];
  /** How many calls the handler made to cached functions, hits included. */
  calls: number;
  scopeId: string;
  stats: CacheScopeStats;
  /** Whether `currentScope()` was this request's scope after every `await`. */
  ownScopeThroughout: boolean;
  /** The id of the scope that was current when the handler started, before opening its own. */
  scopeBeforeOpen: string | null;
  /** The id of the scope that was current after the handler's scope was disposed. */
  scopeAfterDispose: string | null;
}

/** A way to cache a function: `perRequestCache`, or a deliberately broken stand-in. */
type Memoize = <A extends unknown[], R>(fn: (...args: A) => R) => (...args: A) => R;

function tokenOf(request: object | undefined): string {
  if (request === undefined) return "<no scope>";
  if (request instanceof Request) return request.headers.get("x-token") ?? "<no token>";
  const header = (request as IncomingMessage).headers["x-token"];
  return typeof header === "string" ? header : "<no token>";
}

/**
 * The cached functions a handler calls, and the record of their real executions: token → call
 * → how many times it ran. The token comes from the scope, never from a closure or an argument,
 * so a call that ran in (or was answered from) the wrong request's scope shows up.
 */
function workload(memoize: Memoize) {
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

  // Shared arguments (many requests ask for user 3 or for flags) and per-request ones (a
  // session), sync and async, one, two and zero arguments.
  const getUser = memoize((id: number) => ({ id, token: ran(`getUser(${id})`) }));
  const getOrders = memoize(async (userId: number, page: number) => {
    const token = ran(`getOrders(${userId},${page})`);
    await delay(Math.random() * 3);
    // Read again after the await: the scope must have followed the continuation.
    return { userId, page, token, tokenAfterAwait: tokenOf(currentScope()?.request) };
  });
  const getSession = memoize(async (session: string) => {
    const token = ran(`getSession(${session})`);
    await delay(Math.random() * 2);
    return { session, token, tokenAfterAwait: tokenOf(currentScope()?.request) };
  });
  const getFlags = memoize(async () => {
    const token = ran("getFlags()");
    await delay(Math.random() * 2);
    return { token, tokenAfterAwait: tokenOf(currentScope()?.request) };
  });

  /** The calls request `seq` makes, each once: what its executions must be. */
  function expectedCalls(seq: number): Map<string, number> {
    return new Map([
      [`getUser(${seq % 7})`, 1],
      [`getOrders(${seq % 5},0)`, 1],
      [`getOrders(${seq % 5},1)`, 1],
      [`getSession(s${seq})`, 1],
      ["getFlags()", 1],
    ]);
  }

  /** The handler's body, run inside its request's scope. */
  async function work(
    scope: CacheScope,
    token: string,
    seq: number,
    scopeBeforeOpen: string | null,
  ): Promise<Report> {
    scopes.push(scope);
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    const reads: string[] = [];
    let calls = 0;
    let ownScopeThroughout = currentScope() === scope;
    const settle = async (ms: number) => {
      await delay(Math.random() * ms);
      if (currentScope() !== scope) ownScopeThroughout = false;
    };
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const user = getUser(seq % 7);
        // Same arguments, same request: the same stored object, synchronously.
        if (getUser(seq % 7) !== user) reads.push("<getUser returned a second object>");
        reads.push(user.token);
        calls += 2;
        await settle(3);
        // Two concurrent calls with equal arguments share one in-flight promise.
        const [a, b] = await Promise.all([
          getOrders(seq % 5, round % 2),
          getOrders(seq % 5, round % 2),
        ]);
        if (a !== b) reads.push("<getOrders resolved to two objects>");
        reads.push(a.token, a.tokenAfterAwait);
        calls += 2;
        await settle(3);
        const session = await getSession(`s${seq}`);
        reads.push(session.token, session.tokenAfterAwait);
        calls++;
        const flags = await getFlags();
        reads.push(flags.token, flags.tokenAfterAwait);
        calls++;
        await settle(2);
      }
      return {
        token,
        reads,
        calls,
        scopeId: scope.id,
        stats: scope.stats,
        ownScopeThroughout,
        scopeBeforeOpen,
        scopeAfterDispose: null,
      };
    } finally {
      inFlight--;
    }
  }

  /**
   * Sends the load to `url` and checks every report and every count.
   *
   * @returns What went wrong, one line per problem, and the highest number of handlers that
   * were running at once.
   */
  async function load(
    url: string,
    total = REQUESTS,
    concurrency = IN_FLIGHT,
  ): Promise<{ problems: string[]; reports: Report[]; maxInFlight: number }> {
    const run = crypto.randomUUID().slice(0, 8);
    const tokenFor = (seq: number) => `${run}-${seq}`;
    const reports = await driveLoad(async (seq, signal) => {
      const response = await fetch(`${url}?seq=${seq}`, {
        headers: { "x-token": tokenFor(seq) },
        signal,
      });
      const body = await response.text();
      if (response.status !== 200) {
        throw new Error(`Request ${seq} failed with ${response.status}: ${body}`);
      }
      return JSON.parse(body) as Report;
    }, { total, concurrency });

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
      const { hits, misses, entries } = report.stats;
      if (misses !== distinct || hits !== report.calls - distinct || entries !== distinct) {
        problems.push(`request ${seq} has stats ${JSON.stringify({ hits, misses, entries })}`);
      }
      if (!report.ownScopeThroughout) {
        problems.push(`request ${seq} lost its scope across an await`);
      }
      if (report.scopeAfterDispose !== null) {
        problems.push(`request ${seq} still saw scope ${report.scopeAfterDispose} after disposing`);
      }
    });
    const ids = new Set(reports.map((report) => report.scopeId));
    if (ids.size !== total) problems.push(`${total} requests shared ${ids.size} scope ids`);
    for (const token of executions.keys()) {
      if (!token.startsWith(`${run}-`)) problems.push(`an execution ran for token ${token}`);
    }
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

function seqOf(url: string): number {
  return Number(new URL(url, "http://127.0.0.1").searchParams.get("seq"));
}

/** Checks a load's outcome; shows the first problems, not all 500. */
function assertIsolated(outcome: { problems: string[]; maxInFlight: number }): void {
  assert.deepEqual(outcome.problems.slice(0, 10), [], `${outcome.problems.length} problems`);
  // The load is only a test of isolation if the handlers really overlapped.
  assert.ok(outcome.maxInFlight > IN_FLIGHT / 2, `at most ${outcome.maxInFlight} handlers at once`);
}

/** Replaces `console.warn` with a recorder until disposed. */
function captureWarnings(): { warnings: string[] } & Disposable {
  const original = console.warn;
  const warnings: string[] = [];
  console.warn = (...args: unknown[]) => {
    warnings.push(args.map(String).join(" "));
  };
  return {
    warnings,
    [Symbol.dispose]() {
      console.warn = original;
    },
  };
}

/** How many handlers found another request's scope current before they opened their own. */
function carriedOver(reports: Report[]): number {
  return reports.filter((report) => report.scopeBeforeOpen !== null).length;
}

const FOREIGN_SCOPE_WARNING = /found another request's scope still active/;

/** A `node:http` server whose handler opens its scope with `using`, as the example in mod.ts does. */
async function listenNodeHttp(
  work: ReturnType<typeof workload>["work"],
): Promise<{ url: string } & AsyncDisposable> {
  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const scopeBeforeOpen = currentScope()?.id ?? null;
    let report: Report;
    {
      using scope = openCacheScope(request);
      report = await work(scope, tokenOf(request), seqOf(request.url ?? ""), scopeBeforeOpen);
    }
    report.scopeAfterDispose = currentScope()?.id ?? null;
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(report));
  }
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.writeHead(500).end(String(error instanceof Error ? error.stack : error));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    async [Symbol.asyncDispose]() {
      const closed = new Promise<void>((resolve, reject) => {
        server.close((error) => error ? reject(error) : resolve());
      });
      server.closeAllConnections();
      await closed;
    },
  };
}

const denoTest = isDeno ? test : test.skip;
const bunTest = isBun ? test : test.skip;

denoTest(
  "Deno.serve with runInCacheScope per request: 500 requests, 50 in flight, isolated",
  async () => {
    using warned = captureWarnings();
    const { work, load } = workload((fn) => perRequestCache(fn));
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      async (request) => {
        const scopeBeforeOpen = currentScope()?.id ?? null;
        const report = await runInCacheScope(
          request,
          (scope) => work(scope, tokenOf(request), seqOf(request.url), scopeBeforeOpen),
        );
        report.scopeAfterDispose = currentScope()?.id ?? null;
        return Response.json(report);
      },
    );
    try {
      const outcome = await load(`http://127.0.0.1:${server.addr.port}/`);
      assertIsolated(outcome);
      // runInCacheScope never calls enterWith, so nothing carries over to the next request.
      assert.equal(
        carriedOver(outcome.reports),
        0,
        "handlers that started inside another request's scope",
      );
      assert.deepEqual(warned.warnings, []);
    } finally {
      await server.shutdown();
    }
  },
);

denoTest(
  "Deno.serve with a bare `using openCacheScope(request)`: no request reads another's entries",
  async () => {
    // Deno.serve carries an enterWith store over to the next request's handler, so handlers start
    // inside another request's still-active scope. openCacheScope must not adopt it (a warning,
    // once per process), and every request must still get a cache of its own.
    using warned = captureWarnings();
    const { work, load } = workload((fn) => perRequestCache(fn));
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      async (request) => {
        const scopeBeforeOpen = currentScope()?.id ?? null;
        let report: Report;
        {
          using scope = openCacheScope(request);
          report = await work(scope, tokenOf(request), seqOf(request.url), scopeBeforeOpen);
        }
        report.scopeAfterDispose = currentScope()?.id ?? null;
        return Response.json(report);
      },
    );
    try {
      const outcome = await load(`http://127.0.0.1:${server.addr.port}/`);
      assertIsolated(outcome);
      // Whether the store carries over is Deno's business (on Deno 2.9.6 nearly every handler
      // starts inside the scope of a request still in flight); when it does, the library warns,
      // once per process, and this is the only test in the file that can make it warn.
      assert.ok(warned.warnings.length <= 1, `${warned.warnings.length} warnings`);
      for (const warning of warned.warnings) assert.match(warning, FOREIGN_SCOPE_WARNING);
      if (carriedOver(outcome.reports) > 0) assert.equal(warned.warnings.length, 1);
    } finally {
      await server.shutdown();
    }
  },
);

bunTest(
  "Bun.serve with `using openCacheScope(request)`: 500 requests, 50 in flight, isolated",
  async () => {
    using warned = captureWarnings();
    const { work, load } = workload((fn) => perRequestCache(fn));
    const server = bun!.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(request) {
        const scopeBeforeOpen = currentScope()?.id ?? null;
        let report: Report;
        {
          using scope = openCacheScope(request);
          report = await work(scope, tokenOf(request), seqOf(request.url), scopeBeforeOpen);
        }
        report.scopeAfterDispose = currentScope()?.id ?? null;
        return Response.json(report);
      },
    });
    try {
      const outcome = await load(`http://127.0.0.1:${server.port}/`);
      assertIsolated(outcome);
      // Unlike Deno.serve, Bun.serve starts every handler outside any scope.
      assert.equal(
        carriedOver(outcome.reports),
        0,
        "handlers that started inside another request's scope",
      );
      assert.deepEqual(warned.warnings, []);
    } finally {
      await server.stop(true);
    }
  },
);

test("node:http with `using openCacheScope(message)`: 500 requests, 50 in flight, isolated", async () => {
  using warned = captureWarnings();
  const { work, load } = workload((fn) => perRequestCache(fn));
  await using server = await listenNodeHttp(work);
  const outcome = await load(server.url);
  assertIsolated(outcome);
  // node:http (Node's, Deno's and Bun's) starts every handler outside any scope, which is what
  // makes a bare `using` safe there; if a runtime started carrying stores over, this would say so.
  assert.equal(
    carriedOver(outcome.reports),
    0,
    "handlers that started inside another request's scope",
  );
  assert.deepEqual(warned.warnings, []);
});

test("the checks catch a cache that leaks entries between requests", async () => {
  // A process-wide memo: the bug this file exists to catch. Same server, same load, same checks.
  const leaky: Memoize = (fn) => {
    const memo = new Map<string, ReturnType<typeof fn>>();
    return (...args) => {
      const key = JSON.stringify(args);
      if (!memo.has(key)) memo.set(key, fn(...args));
      return memo.get(key)!;
    };
  };
  const { work, load } = workload(leaky);
  await using server = await listenNodeHttp(work);
  const { problems } = await load(server.url, 100, 20);
  assert.ok(problems.some((problem) => problem.startsWith("cross-request read")), problems[0]);
  assert.ok(problems.some((problem) => problem.includes("not each of its calls exactly once")));
});
