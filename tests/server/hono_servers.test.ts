/**
 * Isolation of Hono apps with `app.use(cacheScope())` on real servers: 2,000 requests, 100 in
 * flight, against `Deno.serve` (Deno only), `Bun.serve` (Bun only) and `@hono/node-server`
 * (every runtime), on 127.0.0.1 and an ephemeral port. See `_isolation_workload.ts` for what
 * each request does and how a leak would show.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { openCacheScope } from "../../mod.ts";
import { cacheScope } from "../../hono.ts";
import {
  assertIsolated,
  isolationWorkload,
  leakyMemoize,
  LOAD_TIME_LIMIT,
  seqOf,
  type Workload,
} from "./_isolation_workload.ts";
import { type FetchServer, isBun, isDeno, nativeFetchServer, serveFetch } from "./_servers.ts";

/** A Hono app whose one route runs the workload; every other request also joins explicitly. */
function honoApp(work: Workload["work"]): Hono {
  const app = new Hono();
  app.use(cacheScope());
  app.get("/", async (c) => {
    const seq = seqOf(c.req.url);
    // Half the requests also open the scope themselves, through c.req or c.req.raw: they join
    // the middleware's scope, so the checks (one execution per call) still hold.
    using joined = seq % 2 === 0 ? openCacheScope(seq % 4 === 0 ? c.req : c.req.raw) : undefined;
    const report = await work(c.req.header("x-token") ?? "<no token>", seq);
    if (joined !== undefined && joined.id !== report.scopeId) {
      report.reads.push(`<joined ${joined.id}, not ${report.scopeId}>`);
    }
    return c.json(report);
  });
  return app;
}

async function loadHono(kind: FetchServer): Promise<void> {
  const { work, load } = isolationWorkload();
  await using server = await serveFetch(kind, honoApp(work).fetch);
  assertIsolated(await load(server.url));
}

(isDeno ? test : test.skip)(
  "Hono with cacheScope() on Deno.serve: 2,000 requests, 100 in flight, isolated",
  LOAD_TIME_LIMIT,
  () => loadHono("Deno.serve"),
);

(isBun ? test : test.skip)(
  "Hono with cacheScope() on Bun.serve: 2,000 requests, 100 in flight, isolated",
  LOAD_TIME_LIMIT,
  () => loadHono("Bun.serve"),
);

test(
  "Hono with cacheScope() on @hono/node-server: 2,000 requests, 100 in flight, isolated",
  LOAD_TIME_LIMIT,
  () => loadHono("@hono/node-server"),
);

test("the checks catch a cache that leaks entries between Hono requests", async () => {
  // The same app, server and checks, with a process-wide memo in place of perRequestCache.
  const { work, load } = isolationWorkload(leakyMemoize);
  await using server = await serveFetch(nativeFetchServer, honoApp(work).fetch);
  const { problems } = await load(server.url, { total: 200, concurrency: 20 });
  assert.ok(problems.some((problem) => problem.startsWith("cross-request read")), problems[0]);
  assert.ok(problems.some((problem) => problem.includes("not each of its calls exactly once")));
});
