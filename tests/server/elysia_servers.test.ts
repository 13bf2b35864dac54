/**
 * Elysia's `cacheScope()` plugin on a real `app.listen` (`Bun.serve`, 127.0.0.1): isolation
 * under load, the hooks that see the request's scope, when the scope ends for a body that runs
 * no code while it is sent, `waitUntil`, and the `Server-Timing` header. Elysia runs on Bun
 * here: on Deno and Node these tests are skipped.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Elysia } from "elysia";
import { Hono } from "hono";
import {
  type CacheScope,
  cacheSignal,
  currentScope,
  openCacheScope,
  perRequestCache,
  withCacheScope,
} from "../../mod.ts";
import { cacheScope } from "../../elysia.ts";
import { cacheScope as honoCacheScope } from "../../hono.ts";
import {
  assertIsolated,
  isolationWorkload,
  LOAD_TIME_LIMIT,
  seqOf,
  tokenOf,
} from "./_isolation_workload.ts";
import { eventually, isBun, quietErrors } from "./_servers.ts";
import { listenElysia, whyEnded } from "./_elysia.ts";

const onBun = isBun ? test : test.skip;

onBun(
  "Elysia with cacheScope() on app.listen: 2,000 requests, 100 in flight, isolated, and a hook before the plugin never sees a scope",
  LOAD_TIME_LIMIT,
  async () => {
    const { work, load } = isolationWorkload();
    // Runs first for every request, in the context Bun.serve gives it: a scope entered by an
    // earlier request's hook would show here.
    let carriedOver = 0;
    const app = new Elysia()
      .onRequest(function before() {
        if (currentScope() !== undefined) carriedOver++;
      })
      .use(cacheScope())
      .get("/", ({ request }) => work(tokenOf(request), seqOf(request.url)));
    await using server = listenElysia(app);
    assertIsolated(await load(server.url));
    assert.equal(carriedOver, 0);
  },
);

onBun(
  "app.handle() called by one caller shares that caller's context, and withCacheScope around it keeps each request apart",
  async () => {
    // The control of the isolation test above: without Bun.serve's context per request, the
    // scope entered by one request's first hook is the caller's, and the next request's hook
    // before the plugin sees it while it is alive.
    const before: (string | undefined)[] = [];
    const handled: (string | undefined)[] = [];
    const app = new Elysia()
      .onRequest(function first() {
        before.push(currentScope()?.id);
      })
      .use(cacheScope())
      .get("/", async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        handled.push(currentScope()?.id);
        return "ok";
      });
    const request = () => new Request("http://localhost/");
    const answers = await Promise.all([app.handle(request()), app.handle(request())]);
    assert.deepEqual(await Promise.all(answers.map((answer) => answer.text())), ["ok", "ok"]);
    assert.equal(handled.length, 2);
    assert.equal(before[0], undefined);
    assert.equal(before[1], handled[0], "the second request's first hook saw the first's scope");

    before.length = 0;
    handled.length = 0;
    const handle = withCacheScope((request: Request) => app.handle(request));
    const wrapped = await Promise.all([handle(request()), handle(request())]);
    assert.deepEqual(await Promise.all(wrapped.map((answer) => answer.text())), ["ok", "ok"]);
    // Each request's hooks now run in the wrapper's own context, and the plugin joins its scope.
    assert.equal(handled.length, 2);
    assert.notEqual(handled[0], handled[1]);
    assert.deepEqual(before.toSorted(), handled.toSorted(), "each first hook sees its own scope");
  },
);

onBun("every hook registered after the plugin, and the handler, see the same scope", async () => {
  const seen: [string, CacheScope | undefined][] = [];
  // Returns nothing: a hook that returns a value answers the request in Elysia.
  const see = (hook: string) => void seen.push([hook, currentScope()]);
  const getUser = perRequestCache((id: string) => ({ id }));
  let afterResponse!: () => void;
  const responded = new Promise<void>((resolve) => afterResponse = resolve);
  const app = new Elysia()
    .use(cacheScope())
    .onRequest(() => {
      see("onRequest");
    })
    .onParse(() => {
      see("onParse");
    })
    .onTransform(() => {
      see("onTransform");
    })
    .derive(() => ({ derived: see("derive") }))
    .onBeforeHandle(() => {
      see("onBeforeHandle");
    })
    .onAfterHandle(() => {
      see("onAfterHandle");
    })
    .mapResponse(() => {
      see("mapResponse");
    })
    .onAfterResponse(function after() {
      see("onAfterResponse");
      afterResponse();
    })
    .post("/users", async ({ body, request }) => {
      see("handler");
      await null;
      see("handler after an await");
      using joined = openCacheScope(request);
      assert.equal(joined.id, currentScope()?.id, "openCacheScope(request) joins the scope");
      const user = getUser((body as { id: string }).id);
      return { same: user === getUser("7") };
    });
  await using server = listenElysia(app);
  const response = await fetch(`${server.url}users`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id: "7" }),
  });
  assert.deepEqual(await response.json(), { same: true });
  await responded;
  assert.deepEqual(seen.map(([hook]) => hook), [
    "onRequest",
    "onParse",
    "onTransform",
    "derive",
    "onBeforeHandle",
    "handler",
    "handler after an await",
    "onAfterHandle",
    "mapResponse",
    "onAfterResponse",
  ]);
  const scope = seen[0][1];
  assert.ok(scope !== undefined, "the first hook has a scope");
  for (const [hook, other] of seen) assert.equal(other, scope, `${hook} sees the same scope`);
  await eventually(() => scope.disposed, "the scope ended", 10_000);
  assert.equal(currentScope(), undefined);
});

onBun("the scope's request is the Request Elysia gives the handler", async () => {
  let same = false;
  const app = new Elysia()
    .use(cacheScope())
    .get("/", ({ request }) => {
      const scoped = currentScope()!.request;
      same = scoped === request && scoped instanceof Request;
      return "ok";
    });
  await using server = listenElysia(app);
  assert.equal(await (await fetch(server.url)).text(), "ok");
  assert.ok(same);
});

onBun(
  "the scope ends once the response was sent, for text, JSON, a Response, an error and an unknown route",
  async () => {
    const signals = new Map<string, AbortSignal>();
    const keep = (name: string) => signals.set(name, cacheSignal()!);
    using _quiet = quietErrors();
    const app = new Elysia()
      .use(cacheScope())
      .onRequest(({ request }) => {
        if (new URL(request.url).pathname === "/missing") keep("unknown route");
      })
      .get("/text", () => (keep("text"), "ok"))
      .get("/json", () => (keep("json"), { ok: true }))
      .get("/response", () => (keep("response"), new Response("ok")))
      .get("/throws", () => {
        keep("throws");
        throw new Error("boom");
      });
    await using server = listenElysia(app);
    for (const path of ["text", "json", "response", "throws", "missing"]) {
      await (await fetch(`${server.url}${path}`)).arrayBuffer();
    }
    await eventually(
      () => signals.size === 5 && [...signals.values()].every((signal) => signal.aborted),
      "every scope ended",
      10_000,
    );
    for (const [name, signal] of signals) {
      assert.equal(whyEnded(signal), "the response was sent", name);
    }
  },
);

onBun(
  "an onError hook registered after the plugin sees the scope of the handler that threw",
  async () => {
    const scopes: (CacheScope | undefined)[] = [];
    const app = new Elysia()
      .use(cacheScope())
      .onError(({ error }) => {
        scopes.push(currentScope());
        return new Response(`handled: ${(error as Error).message}`, { status: 500 });
      })
      .get("/", () => {
        scopes.push(currentScope());
        throw new Error("boom");
      });
    await using server = listenElysia(app);
    assert.equal(await (await fetch(server.url)).text(), "handled: boom");
    assert.equal(scopes.length, 2);
    assert.ok(scopes[0] !== undefined);
    assert.equal(scopes[1], scopes[0]);
    await eventually(() => scopes[0]!.disposed, "the scope ended", 10_000);
  },
);

onBun("scope.waitUntil(p) keeps the entries until p settles", async () => {
  const work = Promise.withResolvers<void>();
  const getFlags = perRequestCache(() => ({ beta: true }));
  let scope!: CacheScope;
  let signal!: AbortSignal;
  let afterResponse!: () => void;
  const responded = new Promise<void>((resolve) => afterResponse = resolve);
  const app = new Elysia()
    .use(cacheScope())
    .onAfterResponse(function after() {
      afterResponse();
    })
    .get("/", () => {
      scope = currentScope()!;
      signal = cacheSignal()!;
      scope.waitUntil(work.promise);
      return getFlags();
    });
  await using server = listenElysia(app);
  assert.deepEqual(await (await fetch(server.url)).json(), { beta: true });
  await responded;
  // The response is out and its hooks ran (the plugin's end comes first, in a microtask before
  // this continuation): only the waitUntil work holds the entries now.
  assert.equal(signal.aborted, false);
  assert.equal(scope.stats.entries, 1);
  work.resolve();
  await eventually(() => signal.aborted, "the scope ended", 10_000);
  assert.equal(whyEnded(signal), "its waitUntil work settled");
  assert.equal(scope.stats.entries, 0);
});

onBun("serverTiming: true adds the same Server-Timing header as Hono's cacheScope()", async () => {
  const getUser = perRequestCache(async (id: string) => ({ id }));
  const twice = async () => {
    await getUser("42");
    return await getUser("42");
  };
  const hono = new Hono().use(honoCacheScope({ serverTiming: true }));
  hono.get("/", async (c) => c.json(await twice()));
  const expected = (await hono.request("/")).headers.get("server-timing");
  assert.equal(expected, 'reqcache;desc="hits=1 misses=1 joins=0"');

  const app = new Elysia()
    .use(cacheScope({ serverTiming: true }))
    .get("/json", () => twice())
    .get("/text", async () => (await twice()).id)
    .get("/response", async () => Response.json(await twice()))
    .get("/own-header", async () => {
      await twice();
      return new Response("ok", { headers: { "server-timing": "db;dur=3" } });
    });
  await using server = listenElysia(app);
  for (const path of ["json", "text", "response"]) {
    const response = await fetch(`${server.url}${path}`);
    await response.arrayBuffer();
    assert.equal(response.headers.get("server-timing"), expected, path);
  }
  const own = await fetch(`${server.url}own-header`);
  await own.arrayBuffer();
  assert.equal(own.headers.get("server-timing"), `db;dur=3, ${expected}`);
  // Without the option, no header.
  const plain = new Elysia().use(cacheScope()).get("/", () => twice());
  await using plainServer = listenElysia(plain);
  const response = await fetch(plainServer.url);
  await response.arrayBuffer();
  assert.equal(response.headers.get("server-timing"), null);
});
