/**
 * A worker with no wrapper around its handler: `openCacheScope` must refuse with the documented
 * `TypeError` (workerd has no `enterWith`), while `runInCacheScope` and uncached calls still work.
 * `/pool`: creating a worker pool fails at once (flag `nodejs_als`).
 * Bundled and served by tests/server/workerd.test.ts.
 */
import { currentScope, openCacheScope, perRequestCache, runInCacheScope } from "../../../mod.ts";
import { poolRefusals } from "./pool_refusal.ts";

let runs = 0;
const count = perRequestCache((n: number) => ({ n, run: ++runs }));

async function handle(request: Request): Promise<Response> {
  switch (new URL(request.url).pathname) {
    case "/open": {
      try {
        using scope = openCacheScope(request);
        return Response.json({ opened: scope.id });
      } catch (error) {
        const { name, message, cause } = error as Error;
        return Response.json({
          name,
          message,
          cause: String((cause as Error | undefined)?.message),
          scopeAfter: currentScope()?.id ?? null,
        });
      }
    }
    case "/run": {
      const stats = await runInCacheScope(request, async (scope) => {
        count(1);
        await new Promise((resolve) => setTimeout(resolve, 1));
        count(1);
        return scope.stats;
      });
      return Response.json({ hits: stats.hits, misses: stats.misses });
    }
    case "/pool":
      return await poolRefusals(request);
    case "/uncached": {
      const before = runs;
      count(2);
      count(2);
      return Response.json({ runs: runs - before });
    }
  }
  return new Response("Not Found", { status: 404 });
}

export default { fetch: handle };
