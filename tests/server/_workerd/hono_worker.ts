/**
 * The Hono recipe: `app.use(cacheScope())`, pausing with `setTimeout`; `/batch`: batched
 * functions in the request's scope (see batch_route.ts). Bundled and served by
 * tests/server/workerd.test.ts.
 */
import { Hono } from "hono";
import { cacheScope } from "../../../hono.ts";
import { batchRoute } from "./batch_route.ts";
import { recordRoute, workload } from "./workload.ts";

const { work, stream, fail } = workload((ms) => new Promise((resolve) => setTimeout(resolve, ms)));

const seqOf = (url: string) => Number(new URL(url).searchParams.get("seq"));

const app = new Hono();
app.use(cacheScope());
app.get("/work", async (c) => c.json(await work(c.req.raw, seqOf(c.req.url))));
app.get("/stream", (c) => stream(c.req.raw, seqOf(c.req.url)));
app.get("/throw", (c) => fail(c.req.raw, seqOf(c.req.url)));
app.get("/batch", (c) => batchRoute(c.req.raw, seqOf(c.req.url)));
app.get("*", (c) => recordRoute(new URL(c.req.url)) ?? c.notFound());
// Hono answers a throwing handler with a 500 itself; say so quietly instead of logging a stack.
app.onError((error, c) => c.text(error.message, 500));

export default app;
