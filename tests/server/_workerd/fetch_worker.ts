/**
 * The plain recipe: `export default { fetch: withCacheScope(handler) }`, pausing with workerd's
 * `scheduler.wait`. `/pool`: creating a worker pool fails at once (flag `nodejs_compat`).
 * `/batch`: batched functions in the request's scope (see batch_route.ts).
 * Bundled and served by tests/server/workerd.test.ts.
 */
import { withCacheScope } from "../../../mod.ts";
import { batchRoute } from "./batch_route.ts";
import { poolRefusals } from "./pool_refusal.ts";
import { recordRoute, workload } from "./workload.ts";

/** workerd's scheduler global, which Deno's and Node's types do not declare. */
const { scheduler } = globalThis as unknown as {
  scheduler: { wait(ms: number): Promise<void> };
};

const { work, stream, fail } = workload((ms) => scheduler.wait(ms));

async function handle(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const seq = Number(url.searchParams.get("seq"));
  switch (url.pathname) {
    case "/work":
      return Response.json(await work(request, seq));
    case "/stream":
      return stream(request, seq);
    case "/throw":
      return await fail(request, seq);
    case "/pool":
      return await poolRefusals(request);
    case "/batch":
      return await batchRoute(request, seq);
  }
  return recordRoute(url) ?? new Response("Not Found", { status: 404 });
}

export default { fetch: withCacheScope(handle) };
