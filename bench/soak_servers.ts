/**
 * Soak of the server integrations and the worker pool, the part of `npm run soak` that needs
 * servers and threads. Not part of CI (the 2,000-request versions are
 * tests/server/hono_servers.test.ts and tests/server/fetch_handler_servers.test.ts, the
 * 10,000-request worker version is tests/worker/worker_cleanup.test.ts). `npm run soak` runs it
 * on Deno, Bun and Node:
 *
 * ```sh
 * deno run --v8-flags=--expose-gc --allow-net=127.0.0.1 --allow-read=. bench/soak_servers.ts
 * bun bench/soak_servers.ts
 * node --expose-gc bench/soak_servers.ts
 * ```
 *
 * 1. Isolation under load: the real-server isolation workload of the tests at 10× (20,000
 *    requests, 200 in flight) on each server this runtime has, checking that no request read
 *    another's entry and that each request ran each of its calls exactly once, and printing the
 *    requests per second held.
 * 2. 100,000 requests through a pool of 2 workers, 200 in flight, each in its own scope: every
 *    value a task read must come from its own request's scope, and at the end no worker may hold
 *    a scope or an entry. Prints the main thread's heap before and after a full collection.
 *
 * Every load runs to a fixed count under a deadline, on 127.0.0.1. The process exits non-zero
 * if any check fails.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Hono } from "hono";
import { openCacheScope, runInCacheScope, withCacheScope, withListenerCacheScope } from "../mod.ts";
import { cacheScope } from "../hono.ts";
import { createWorkerPool } from "../worker.ts";
import {
  isolationWorkload,
  seqOf,
  tokenOf,
  type Workload,
} from "../tests/server/_isolation_workload.ts";
import {
  type Listening,
  listenNodeHttp,
  nativeFetchServer,
  serveFetch,
} from "../tests/server/_servers.ts";
import type { tasks } from "./_soak_tasks.ts";
import { collect, mib, runtime } from "./_soak_heap.ts";

const REQUESTS = 20_000;
const IN_FLIGHT = 200;
/** Per server: a 2-core machine holds 1,000–3,000 requests/s, so 20,000 take 7–20 s. */
const LOAD_DEADLINE = 120_000;
const POOL_REQUESTS = 100_000;
const POOL_SIZE = 2;
const POOL_DEADLINE = 180_000;

const count = (n: number) => Math.round(n).toLocaleString("en");
const failures: string[] = [];

// 1. Isolation under load -------------------------------------------------------------------

/** A fetch handler that also opens the request's scope with `using`: it joins the wrapper's. */
function joiningHandler(work: Workload["work"]): (request: Request) => Promise<Response> {
  return withCacheScope(async (request: Request) => {
    using _joined = openCacheScope(request);
    return Response.json(await work(tokenOf(request), seqOf(request.url)));
  });
}

function honoHandler(work: Workload["work"]): (request: Request) => Promise<Response> {
  const app = new Hono();
  app.use(cacheScope());
  app.get("/", async (c) => c.json(await work(tokenOf(c.req.raw), seqOf(c.req.url))));
  return async (request) => await app.fetch(request);
}

function listener(
  work: Workload["work"],
): (request: IncomingMessage, response: ServerResponse) => void {
  return withListenerCacheScope(async (request: IncomingMessage, response: ServerResponse) => {
    try {
      const report = await work(tokenOf(request), seqOf(request.url ?? ""));
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(report));
    } catch (error) {
      response.writeHead(500).end(String(error instanceof Error ? error.stack : error));
    }
  });
}

const servers: [string, (work: Workload["work"]) => Promise<Listening>][] = [
  [
    `${nativeFetchServer} + withCacheScope`,
    (work) => serveFetch(nativeFetchServer, joiningHandler(work)),
  ],
  [
    `Hono cacheScope() on ${nativeFetchServer}`,
    (work) => serveFetch(nativeFetchServer, honoHandler(work)),
  ],
  ["node:http + withListenerCacheScope", (work) => listenNodeHttp(listener(work))],
];

console.log(`@reqcache/core server and worker soak on ${runtime}`);
for (const [name, listen] of servers) {
  const { work, load } = isolationWorkload();
  await using server = await listen(work);
  const started = performance.now();
  let line: string;
  try {
    const { problems, maxInFlight } = await load(server.url, {
      total: REQUESTS,
      concurrency: IN_FLIGHT,
      deadline: LOAD_DEADLINE,
    });
    const seconds = (performance.now() - started) / 1000;
    const crossReads = problems.filter((problem) => problem.startsWith("cross-request read"));
    line = `${name}: ${count(REQUESTS)} requests (${IN_FLIGHT} in flight, up to ` +
      `${maxInFlight} handlers at once) in ${seconds.toFixed(1)} s, ` +
      `${count(REQUESTS / seconds)} requests/s; cross-request reads: ${crossReads.length}; ` +
      `other problems: ${problems.length - crossReads.length}`;
    for (const problem of problems.slice(0, 5)) failures.push(`${name}: ${problem}`);
    if (problems.length > 5) failures.push(`${name}: … ${problems.length - 5} more problems`);
  } catch (error) {
    line = `${name}: FAILED (${error instanceof Error ? error.message : error})`;
    failures.push(line);
  }
  console.log(line);
}

// 2. 100,000 requests through a worker pool -------------------------------------------------

{
  await using pool = createWorkerPool<typeof tasks>(new URL("./_soak_tasks.ts", import.meta.url), {
    size: POOL_SIZE,
    maxQueue: Infinity,
  });
  // Every worker has started and answered once before the heap is measured.
  await pool.stats();
  await runInCacheScope({ warmUp: true }, () => pool.run("quote", [0]));
  const before = await collect();
  const deadline = Date.now() + POOL_DEADLINE;
  let foreign = 0;
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < POOL_REQUESTS && Date.now() < deadline) {
      const n = next++;
      const request = { url: `/quote/${n}` };
      await runInCacheScope(request, async (scope) => {
        const { scope: ran, seen } = await pool.run("quote", [n % 10]);
        for (const id of [ran, ...seen]) if (id !== scope.id) foreign++;
      });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  const seconds = (performance.now() - started) / 1000;
  const afterRun = process.memoryUsage().heapUsed;
  // The workers hear of the last scopes' ends through their message queues: ask until they
  // have caught up (stats are answered in order, after every message sent before).
  const stats = await pool.stats();
  const after = await collect();
  const held = stats.workers.reduce((sum, w) => sum + w.scopes, 0);
  const entries = stats.workers.reduce((sum, w) => sum + w.entries, 0);
  const tasksRun = stats.workers.reduce((sum, w) => sum + w.tasks, 0);
  const done = Math.min(next, POOL_REQUESTS);
  console.log(
    `worker pool (${POOL_SIZE} workers): ${count(done)} requests (${IN_FLIGHT} in flight, one ` +
      `task each) in ${seconds.toFixed(1)} s, ${count(done / seconds)} requests/s; ` +
      `cross-request reads: ${foreign}`,
  );
  console.log(
    `  main-thread heap: ${mib(before)} before, ${mib(afterRun)} after the run, ` +
      `${mib(after)} after GC (retained ${mib(after - before)})`,
  );
  console.log(
    `  workers at the end: ${
      stats.workers.map((w) =>
        `{ scopes: ${w.scopes}, entries: ${w.entries}, tasks: ${count(w.tasks)} }`
      )
        .join(", ")
    }; pool scopes: ${stats.scopes}`,
  );
  if (done < POOL_REQUESTS) failures.push(`worker pool: only ${done} requests before the deadline`);
  if (foreign > 0) failures.push(`worker pool: ${foreign} cross-request reads`);
  if (held > 0 || entries > 0 || stats.scopes > 0) {
    failures.push(`worker pool: ${held} scopes, ${entries} entries held at the end`);
  }
  if (tasksRun !== POOL_REQUESTS + 1) {
    failures.push(`worker pool: the workers ran ${tasksRun} tasks, not ${POOL_REQUESTS + 1}`);
  }
  if (after - before > 16 * 1024 * 1024) {
    failures.push(`worker pool: retained heap ${mib(after - before)} > 16 MiB`);
  }
}

if (failures.length > 0) {
  console.error(`FAILED: ${failures.join("; ")}`);
  process.exit(1);
}
