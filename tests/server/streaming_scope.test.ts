/**
 * Streamed responses on real servers: the runtime's own fetch server (`Deno.serve`, `Bun.serve`,
 * `@hono/node-server` on Node) and `@hono/node-server` on every runtime. A body produced over
 * time still uses its request's cache; the scope ends only when the body is done, and it always
 * ends: when the client goes away mid-stream, when the body errors, when the handler throws.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { Hono } from "hono";
import { stream, streamText } from "hono/streaming";
import {
  type CacheScope,
  currentScope,
  openCacheScope,
  perRequestCache,
  withCacheScope,
} from "../../mod.ts";
import { cacheScope } from "../../hono.ts";
import {
  eventually,
  type Fetch,
  type FetchServer,
  isBun,
  isDeno,
  nativeFetchServer,
  quietErrors,
  serveFetch,
} from "./_servers.ts";

const servers: FetchServer[] = isDeno || isBun
  ? [nativeFetchServer, "@hono/node-server"]
  : [nativeFetchServer];

const encoder = new TextEncoder();

/**
 * The cached functions a streaming body calls, and what they saw. Each call returns the id of
 * the scope it ran in (or "none"), and every real execution is counted by argument.
 */
function parts() {
  const runs = new Map<string, number>();
  const count = (call: string) => runs.set(call, (runs.get(call) ?? 0) + 1);
  const scopeId = () => currentScope()?.id ?? "none";
  const header = perRequestCache((title: string) => {
    count(`header(${title})`);
    return `${title}@${scopeId()}`;
  });
  const row = perRequestCache(async (i: number) => {
    count(`row(${i})`);
    await delay(2);
    return `row${i}@${scopeId()}`;
  });
  /** One chunk: the same sync call every time, and a row that repeats every other chunk. */
  async function chunk(i: number): Promise<string> {
    return `${header("report")} ${await row(i >> 1)}\n`;
  }
  return { runs, chunk };
}

/** Records the request's scope and the order of what happens to it. */
function tracker() {
  const events: string[] = [];
  let scope: CacheScope | undefined;
  return {
    events,
    get scope(): CacheScope {
      assert.ok(scope !== undefined, "the handler never ran");
      return scope;
    },
    /** Call in the handler: takes the current scope and logs its end. */
    take(): CacheScope {
      scope = currentScope();
      assert.ok(scope !== undefined, "the handler has no scope");
      scope.onEnd(() => events.push("scope ended"));
      return scope;
    },
  };
}

/** Reads a whole body as text, chunk by chunk. */
async function readAll(response: Response): Promise<string> {
  assert.equal(response.status, 200);
  return await response.text();
}

/**
 * Fetches `url`, reads `chunks` chunks of the body, then aborts the request (the client goes
 * away mid-stream). Resolves once the client side has settled.
 */
async function abortAfter(url: string, chunks: number): Promise<void> {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  const reader = response.body!.getReader();
  for (let i = 0; i < chunks; i++) {
    const { done } = await reader.read();
    assert.equal(done, false, "the body ended before the client aborted");
  }
  controller.abort();
  await reader.read().catch(() => {});
}

/** The lines every streaming test expects: 6 chunks, all in the request's scope. */
function expectedBody(id: string): string {
  return Array.from({ length: 6 }, (_, i) => `report@${id} row${i >> 1}@${id}\n`).join("");
}

function expectedRuns(): Map<string, number> {
  return new Map([["header(report)", 1], ["row(0)", 1], ["row(1)", 1], ["row(2)", 1]]);
}

/** A stream whose `pull` makes one chunk per call, after a delay. */
function pulledBody(chunk: (i: number) => Promise<string>, events: string[], total = 6) {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      await delay(3);
      if (i === total) {
        events.push("body done");
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(await chunk(i++)));
    },
  });
}

/** A stream whose `start` pushes every chunk over time, without waiting to be pulled. */
function pushedBody(chunk: (i: number) => Promise<string>, events: string[], total = 6) {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      (async () => {
        for (let i = 0; i < total; i++) {
          await delay(3);
          controller.enqueue(encoder.encode(await chunk(i)));
        }
        events.push("body done");
        controller.close();
      })();
    },
  });
}

/** Serves `fetch` on `kind`, runs `client` against its URL, and closes the server. */
async function against(kind: FetchServer, fetch: Fetch, client: (url: string) => Promise<void>) {
  await using server = await serveFetch(kind, fetch);
  await client(server.url);
}

for (const kind of servers) {
  for (const [shape, body] of [["pull", pulledBody], ["start", pushedBody]] as const) {
    test(`${kind}, withCacheScope: a body made in ${shape}() over time uses the request's cache until it ends`, async () => {
      const { runs, chunk } = parts();
      const seen = tracker();
      const handler = withCacheScope((_request: Request) => {
        seen.take();
        return new Response(body(chunk, seen.events));
      });
      await against(kind, handler, async (url) => {
        const text = await readAll(await fetch(url));
        assert.equal(text, expectedBody(seen.scope.id));
        await eventually(() => seen.scope.disposed, "the scope ended");
      });
      assert.deepEqual(runs, expectedRuns());
      assert.deepEqual(seen.events, ["body done", "scope ended"]);
    });
  }

  for (const [helper, respond] of [["stream", stream], ["streamText", streamText]] as const) {
    test(`${kind}, cacheScope(): Hono's ${helper}() callback uses the request's cache until it ends`, async () => {
      const { runs, chunk } = parts();
      const seen = tracker();
      const app = new Hono().use(cacheScope());
      app.get("/", (c) => {
        seen.take();
        return respond(c, async (s) => {
          for (let i = 0; i < 6; i++) {
            await s.sleep(3);
            // The scope is still open while the callback runs, long after the handler returned.
            if (seen.scope.disposed) seen.events.push("disposed too early");
            await s.write(await chunk(i));
          }
          seen.events.push("body done");
        });
      });
      await against(kind, app.fetch, async (url) => {
        const text = await readAll(await fetch(url));
        assert.equal(text, expectedBody(seen.scope.id));
        await eventually(() => seen.scope.disposed, "the scope ended");
      });
      assert.deepEqual(runs, expectedRuns());
      assert.deepEqual(seen.events, ["body done", "scope ended"]);
    });
  }

  test(`${kind}, withCacheScope: a client that aborts mid-stream ends the scope`, async () => {
    const { chunk } = parts();
    const seen = tracker();
    let cancelled = false;
    const handler = withCacheScope((_request: Request) => {
      seen.take();
      let i = 0;
      // Endless, as far as the client knows; it stops on its own after a few seconds so that a
      // server that never cancels it fails the poll below instead of hanging the test.
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(controller) {
            await delay(10);
            if (i === 400) return controller.close();
            controller.enqueue(encoder.encode(await chunk(i++ % 6)));
          },
          cancel() {
            cancelled = true;
          },
        }),
      );
    });
    await against(kind, handler, async (url) => {
      await abortAfter(url, 2);
      await eventually(() => seen.scope.disposed, "the scope ended after the client aborted");
      assert.ok(cancelled, "the server cancelled the handler's stream");
      assert.deepEqual(seen.events, ["scope ended"]);
    });
  });

  test(`${kind}, cacheScope(): a client that aborts a Hono stream() ends the scope`, async () => {
    const { chunk } = parts();
    const seen = tracker();
    let aborted = false;
    const app = new Hono().use(cacheScope());
    app.get("/", (c) => {
      seen.take();
      return stream(c, async (s) => {
        s.onAbort(() => {
          aborted = true;
        });
        for (let i = 0; i < 400 && !s.aborted; i++) {
          await s.sleep(10);
          await s.write(await chunk(i % 6));
        }
      });
    });
    await against(kind, app.fetch, async (url) => {
      await abortAfter(url, 2);
      await eventually(() => seen.scope.disposed, "the scope ended after the client aborted");
      assert.ok(aborted, "the stream saw the abort");
    });
  });

  test(`${kind}, withCacheScope: a body that errors mid-stream ends the scope`, async () => {
    using _quiet = quietErrors();
    const { chunk } = parts();
    const seen = tracker();
    const handler = withCacheScope((_request: Request) => {
      seen.take();
      let i = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(controller) {
            await delay(3);
            if (i === 2) throw new Error("the database went away");
            controller.enqueue(encoder.encode(await chunk(i++)));
          },
        }),
      );
    });
    await against(kind, handler, async (url) => {
      const response = await fetch(url);
      await response.text().catch(() => {});
      await eventually(() => seen.scope.disposed, "the scope ended after the body errored");
    });
  });

  test(`${kind}: a handler that throws ends the scope, with either integration`, async () => {
    using _quiet = quietErrors();
    const plain = tracker();
    const handler = withCacheScope(async (_request: Request): Promise<Response> => {
      plain.take();
      await delay(2);
      throw new Error("no such user");
    });
    await against(kind, handler, async (url) => {
      const response = await fetch(url);
      await response.body?.cancel();
      assert.equal(response.status, 500);
      await eventually(() => plain.scope.disposed, "withCacheScope's scope ended");
    });

    const hono = tracker();
    const app = new Hono().use(cacheScope());
    app.get("/", async () => {
      hono.take();
      await delay(2);
      throw new Error("no such user");
    });
    await against(kind, app.fetch, async (url) => {
      const response = await fetch(url);
      assert.equal(await response.text(), "Internal Server Error");
      assert.equal(response.status, 500);
      await eventually(() => hono.scope.disposed, "cacheScope()'s scope ended");
    });
  });

  test(`${kind}: with waitForBody: false the scope ends when the handler returns`, async () => {
    const { runs, chunk } = parts();
    const plain = tracker();
    const handler = withCacheScope((_request: Request) => {
      plain.take();
      return new Response(pulledBody(chunk, plain.events));
    }, { waitForBody: false });
    await against(kind, handler, async (url) => {
      const text = await readAll(await fetch(url));
      // The body was made after the scope ended: every call ran uncached, in no scope.
      assert.equal(
        text,
        Array.from({ length: 6 }, (_, i) => `report@none row${i >> 1}@none\n`).join(""),
      );
    });
    assert.deepEqual(plain.events, ["scope ended", "body done"]);
    assert.equal(runs.get("header(report)"), 6);

    const hono = tracker();
    const app = new Hono().use(cacheScope({ waitForBody: false }));
    app.get("/", (c) => {
      hono.take();
      return stream(c, async (s) => {
        await s.sleep(20);
        hono.events.push(hono.scope.disposed ? "callback after the end" : "callback in scope");
        await s.write("done");
      });
    });
    await against(kind, app.fetch, async (url) => {
      assert.equal(await readAll(await fetch(url)), "done");
    });
    assert.deepEqual(hono.events, ["scope ended", "callback after the end"]);
  });

  test(`${kind}: serverTiming adds the hits, misses and joins up to the handler's return`, async () => {
    const { chunk } = parts();
    const handler = withCacheScope(async (_request: Request) => {
      await chunk(0);
      await chunk(1);
      await chunk(2);
      return new Response("ok");
    }, { serverTiming: true });
    await against(kind, handler, async (url) => {
      const response = await fetch(url);
      assert.equal(await response.text(), "ok");
      assert.equal(
        response.headers.get("server-timing"),
        'reqcache;desc="hits=3 misses=3 joins=0"',
      );
    });

    const app = new Hono().use(cacheScope({ serverTiming: true }));
    app.get("/", async (c) => {
      c.header("Server-Timing", "db;dur=12");
      await chunk(0);
      return c.text("ok");
    });
    await against(kind, app.fetch, async (url) => {
      const response = await fetch(url);
      assert.equal(await response.text(), "ok");
      assert.equal(
        response.headers.get("server-timing"),
        'db;dur=12, reqcache;desc="hits=0 misses=2 joins=0"',
      );
    });
  });

  test(`${kind}, cacheScope(): a handler's openCacheScope(c.req.raw) and openCacheScope(c.req) join the middleware's scope`, async () => {
    const { runs, chunk } = parts();
    const seen = tracker();
    const ids: string[] = [];
    const app = new Hono().use(cacheScope());
    app.get("/", async (c) => {
      const scope = seen.take();
      {
        using raw = openCacheScope(c.req.raw);
        using wrapped = openCacheScope(c.req);
        ids.push(scope.id, raw.id, wrapped.id, currentScope()!.id);
        await chunk(0);
      }
      // The handler's handles are gone; the middleware's keeps the scope for the body.
      seen.events.push(scope.disposed ? "ended with the handler's handles" : "still open");
      return stream(c, async (s) => {
        await s.sleep(5);
        await s.write(await chunk(1));
      });
    });
    await against(kind, app.fetch, async (url) => {
      const text = await readAll(await fetch(url));
      assert.equal(text, `report@${seen.scope.id} row0@${seen.scope.id}\n`);
      await eventually(() => seen.scope.disposed, "the scope ended");
    });
    assert.equal(new Set(ids).size, 1, `scope ids ${ids}`);
    assert.deepEqual(runs, new Map([["header(report)", 1], ["row(0)", 1]]));
    assert.deepEqual(seen.events, ["still open", "scope ended"]);
  });

  test(`${kind}: a HEAD request ends the scope, with either integration`, async () => {
    // Hono answers HEAD by running the GET route and dropping its body unread: the scope must
    // not wait for it. The servers drop the body of a wrapped handler's HEAD response too.
    const plain = tracker();
    const handler = withCacheScope((_request: Request) => {
      plain.take();
      return new Response(pulledBody(parts().chunk, plain.events));
    });
    await against(kind, handler, async (url) => {
      const response = await fetch(url, { method: "HEAD" });
      assert.equal(await response.text(), "");
      await eventually(() => plain.scope.disposed, "withCacheScope's scope ended");
    });

    const hono = tracker();
    const app = new Hono().use(cacheScope());
    app.get("/", (c) => {
      hono.take();
      return c.text("a body nobody reads");
    });
    await against(kind, app.fetch, async (url) => {
      const response = await fetch(url, { method: "HEAD" });
      assert.equal(response.status, 200);
      assert.equal(await response.text(), "");
      await eventually(() => hono.scope.disposed, "cacheScope()'s scope ended");
    });
  });
}

test("cacheScope(): a HEAD request whose GET route streams ends the scope, though Hono drops that body unread", async () => {
  let scope: CacheScope | undefined;
  const app = new Hono().use(cacheScope());
  app.get("/", (c) => {
    scope = currentScope();
    return stream(c, async (s) => {
      await s.write("never read");
    });
  });
  const response = await app.request("/", { method: "HEAD" });
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "");
  assert.equal(scope?.disposed, true);
});

test("a response whose body cannot be read fails, and its scope ends", async () => {
  using _quiet = quietErrors(); // Hono's default error handler logs the TypeError
  // Bun tells a body made from a string without reading it, and passes it through as it is
  // (the stream taken from it runs no user code): the failure then comes when it is read.
  // Elsewhere the body is read through a stream of ours, whose getReader() throws.
  const passedThrough = isBun;
  const seen = tracker();
  const handler = withCacheScope((_request: Request) => {
    seen.take();
    const response = new Response("read already");
    response.body!.getReader();
    return response;
  });
  if (passedThrough) {
    await assert.rejects((await handler(new Request("http://localhost/"))).text(), TypeError);
  } else {
    await assert.rejects(handler(new Request("http://localhost/")), TypeError);
  }
  assert.equal(seen.scope.disposed, true);

  const hono = tracker();
  const app = new Hono().use(cacheScope({ serverTiming: true }));
  app.get("/", () => {
    hono.take();
    const locked = new Response("read already");
    locked.body!.getReader();
    return locked;
  });
  const response = await app.request("/");
  if (passedThrough) await assert.rejects(response.text(), TypeError);
  else assert.equal(response.status, 500);
  assert.equal(hono.scope.disposed, true);
});

test("an end listener that throws is logged and does not stop the cancel from reaching the body", async () => {
  let cancelled: unknown;
  const handler = withCacheScope((_request: Request) => {
    currentScope()!.onEnd(() => {
      throw new Error("a listener with a bug");
    });
    return new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.enqueue(encoder.encode("more"));
        },
        cancel(reason) {
          cancelled = reason;
        },
      }),
    );
  });
  const response = await handler(new Request("http://localhost/"));
  const reader = response.body!.getReader();
  await reader.read();
  // Nobody can take the listener's error when a client goes away: it is logged, and the
  // body's producer has stopped all the same.
  const logged: unknown[][] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => void logged.push(args);
  try {
    await reader.cancel("client gone");
  } finally {
    console.error = error;
  }
  assert.equal(cancelled, "client gone");
  assert.equal(logged.length, 1);
  assert.match(String(logged[0][0]), /an end listener of cache scope .+ threw/);
  assert.ok(logged[0][1] instanceof AggregateError);
});
