/**
 * Isolation on Express, Fastify and Koa with `cacheScope()`, on a real server: 2,000 requests,
 * 100 in flight, each handler calling cached functions across awaits. The workload and its
 * checks (no request reads another's entry, each runs each call exactly once, every scope
 * ends) are `_isolation_workload.ts`, shared with the other server integrations.
 */
import { test } from "node:test";
import {
  assertIsolated,
  isolationWorkload,
  LOAD_TIME_LIMIT,
  seqOf,
  tokenOf,
} from "./_isolation_workload.ts";
import { frameworks } from "./_node_frameworks.ts";

for (const framework of frameworks) {
  test(
    `${framework.name} with cacheScope(): 2,000 requests, 100 in flight, no request reads another's entry`,
    LOAD_TIME_LIMIT,
    async () => {
      const { work, load } = isolationWorkload();
      await using server = await framework.serve({
        json: ({ request, url }) => work(tokenOf(request), seqOf(url)),
      });
      assertIsolated(await load(`${server.url}json`));
    },
  );
}
