/**
 * `serverTiming: true` on Express, Fastify and Koa, on a real server: the same `Server-Timing`
 * header as Hono's `cacheScope()` gives, with the request's figures; for a body that goes out
 * before the handler finishes, the figures when the head was written. Without the option, no
 * header.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { perRequestCache } from "../../mod.ts";
import { cacheScope as honoScope } from "../../hono.ts";
import { frameworks } from "./_node_frameworks.ts";

const getUser = perRequestCache(async (id: number) => ({ id }));

/** Two misses and a hit, then the value. */
async function threeCalls(): Promise<unknown> {
  await getUser(1);
  await getUser(2);
  return await getUser(1);
}

test("Hono's header, the one the node:http frameworks must match", async () => {
  const app = new Hono().use(honoScope({ serverTiming: true }));
  app.get("/", async (c) => c.json(await threeCalls()));
  const response = await app.request("/");
  assert.equal(response.headers.get("server-timing"), 'reqcache;desc="hits=1 misses=2 joins=0"');
});

for (const framework of frameworks) {
  test(`${framework.name} with serverTiming: the same Server-Timing header as Hono's`, async () => {
    await using server = await framework.serve({ json: threeCalls }, { serverTiming: true });
    const response = await fetch(`${server.url}json`);
    assert.deepEqual(await response.json(), { id: 1 });
    assert.equal(
      response.headers.get("server-timing"),
      'reqcache;desc="hits=1 misses=2 joins=0"',
    );
  });

  test(`${framework.name} with serverTiming: a streamed body reports the figures of the moment its head was written`, async () => {
    await using server = await framework.serve({
      async *stream() {
        yield JSON.stringify(await getUser(1));
        // After the head: these do not show in the header.
        yield JSON.stringify(await getUser(2));
        yield JSON.stringify(await getUser(2));
      },
    }, { serverTiming: true });
    const response = await fetch(`${server.url}stream`);
    assert.equal(await response.text(), '{"id":1}{"id":2}{"id":2}');
    // The head goes out with the first chunk, on all three.
    assert.equal(
      response.headers.get("server-timing"),
      'reqcache;desc="hits=0 misses=1 joins=0"',
    );
  });

  test(`${framework.name} without serverTiming: no Server-Timing header`, async () => {
    await using server = await framework.serve({ json: threeCalls });
    const response = await fetch(`${server.url}json`);
    await response.body?.cancel();
    assert.equal(response.headers.get("server-timing"), null);
  });
}
