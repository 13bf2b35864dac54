/**
 * Streamed bodies on Express (`res.write` over time), Fastify (`reply.send(readable)`) and Koa
 * (`ctx.body = readable`, which Koa pipes after every middleware finished, outside any
 * middleware's context), on a real server: code that produces the body after the handler
 * returned still uses the request's cache, the scope ends once the body has been sent, and
 * `waitForBody: false` ends it when the handler returns. `waitUntil` work keeps the entries.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { type CacheScope, currentScope, perRequestCache } from "../../mod.ts";
import { frameworks } from "./_node_frameworks.ts";
import { eventually } from "./_servers.ts";

/** Cached calls a body makes while it is sent, counted by argument. */
function bodyParts() {
  const runs = new Map<string, number>();
  const count = (call: string) => runs.set(call, (runs.get(call) ?? 0) + 1);
  const header = perRequestCache((title: string) => {
    count(`header(${title})`);
    return { title, scope: currentScope()?.id ?? "none" };
  });
  const row = perRequestCache(async (i: number) => {
    count(`row(${i})`);
    await delay(1);
    return `row${i}@${currentScope()?.id ?? "none"}`;
  });
  return { runs, header, row };
}

for (const framework of frameworks) {
  test(`${framework.name}: a body produced after the handler returned uses the request's cache, and the scope ends once it is sent`, async () => {
    const { runs, header, row } = bodyParts();
    const scopes: CacheScope[] = [];
    const ended: boolean[] = [];
    await using server = await framework.serve({
      async *stream() {
        const scope = currentScope()!;
        scopes.push(scope);
        const first = header("report");
        for (let i = 0; i < 6; i++) {
          await delay(2);
          // The same stored object on every chunk: one entry for the whole body.
          const same = header("report") === first;
          yield `${first.scope} ${same} ${await row(i >> 1)}\n`;
        }
        ended.push(scope.disposed);
      },
    });
    const body = await (await fetch(`${server.url}stream`)).text();
    const [scope] = scopes;
    const expected = [0, 0, 1, 1, 2, 2].map((i) => `${scope.id} true row${i}@${scope.id}\n`);
    assert.equal(body, expected.join(""));
    assert.deepEqual(Object.fromEntries(runs), {
      "header(report)": 1,
      "row(0)": 1,
      "row(1)": 1,
      "row(2)": 1,
    });
    assert.deepEqual(ended, [false], "the scope was open while the last chunk was made");
    await eventually(() => scope.disposed, "the scope ended after the body was sent", 20_000);
    assert.match(String(scope.signal.reason?.message), /ended: the response was sent$/);
  });

  test(`${framework.name}: a large streamed body read through backpressure keeps the request's scope in every chunk`, async () => {
    const chunk = "x".repeat(64 * 1024);
    const seen: (string | undefined)[] = [];
    let opened: CacheScope | undefined;
    await using server = await framework.serve({
      async *stream() {
        opened = currentScope();
        for (let i = 0; i < 64; i++) {
          seen.push(currentScope()?.id);
          yield chunk;
        }
      },
    });
    const body = await (await fetch(`${server.url}stream`)).text();
    assert.equal(body.length, 64 * chunk.length);
    assert.ok(opened !== undefined);
    assert.deepEqual(new Set(seen), new Set([opened.id]));
  });

  test(`${framework.name} with waitForBody: false: the scope ends when the handler returns, and a later chunk finds none`, async () => {
    const { header } = bodyParts();
    const scopes: CacheScope[] = [];
    await using server = await framework.serve({
      stream() {
        scopes.push(currentScope()!);
        return (async function* () {
          yield `${header("first").scope}\n`;
          await delay(5);
          yield `${header("later").scope}\n`;
        })();
      },
    }, { waitForBody: false });
    const body = await (await fetch(`${server.url}stream`)).text();
    const [scope] = scopes;
    // Express ends it when the head is written, after its handler made the first chunk; Fastify
    // and Koa read a stream only once the handler has returned.
    const first = framework.name === "Express" ? scope.id : "none";
    assert.equal(body, `${first}\nnone\n`);
    assert.ok(scope.disposed);
    assert.match(String(scope.signal.reason?.message), /ended: the handler returned$/);
  });

  test(`${framework.name}: waitUntil work keeps the request's entries until it settles`, async () => {
    const { runs, header } = bodyParts();
    const work = Promise.withResolvers<void>();
    const late: { title: string; scope: string }[] = [];
    let scope: CacheScope | undefined;
    await using server = await framework.serve({
      json() {
        scope = currentScope()!;
        const first = header("kept");
        scope.waitUntil(work.promise.then(() => void late.push(header("kept"), first)));
        return Promise.resolve(first);
      },
    });
    const response = await fetch(`${server.url}json`);
    assert.equal((await response.json()).title, "kept");
    // The response's close gives up the request's handle; the waitUntil work keeps the scope.
    await eventually(() => scope!.disposed, "the response gave up the request's handle");
    assert.equal(scope!.signal.aborted, false, "the scope ended while waitUntil work ran");
    assert.equal(scope!.stats.entries, 1);
    work.resolve();
    await eventually(
      () => scope!.signal.aborted,
      "the scope ended once its waitUntil work settled",
    );
    assert.equal(late[0], late[1], "the late call was a hit on the request's entry");
    assert.equal(runs.get("header(kept)"), 1);
    assert.equal(scope!.stats.entries, 0);
    assert.match(String(scope!.signal.reason?.message), /ended: its waitUntil work settled$/);
  });
}
