/**
 * Elysia's `cacheScope()` plugin and bodies that run code while they are sent, on a real
 * `app.listen` (`Bun.serve`, 127.0.0.1): a generator handler, a `ReadableStream`, a `Response`
 * with a stream keep the request's scope until the body has been read, and end it then; a
 * client that goes away ends it, while the handler runs or mid-body; `waitForBody: false` ends
 * it with the handler. Elysia runs on Bun here: on Deno and Node these tests are skipped.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Elysia } from "elysia";
import { cacheSignal, currentScope, perRequestCache } from "../../mod.ts";
import { cacheScope } from "../../elysia.ts";
import { eventually, isBun } from "./_servers.ts";
import { listenElysia, whyEnded } from "./_elysia.ts";

const onBun = isBun ? test : test.skip;

/** A cached function that counts its real runs, and the scope ids it ran in. */
function countedUser() {
  const runs: (string | undefined)[] = [];
  const getUser = perRequestCache((id: string) => {
    runs.push(currentScope()?.id);
    return { id };
  });
  return { getUser, runs };
}

/** Resolves on the next macrotask: the body's code runs after the handler returned. */
const later = () => new Promise((resolve) => setTimeout(resolve, 1));

onBun(
  "a generator handler that calls a cached function after the handler returned gets the request's entries; then the scope ends",
  async () => {
    const { getUser, runs } = countedUser();
    const seen: { same: boolean; scope: string | undefined }[] = [];
    let signal!: AbortSignal;
    const app = new Elysia()
      .use(cacheScope())
      .get("/", async function* () {
        signal = cacheSignal()!;
        const first = getUser("1");
        yield "first ";
        await later();
        seen.push({ same: getUser("1") === first, scope: currentScope()?.id });
        yield "second ";
        await later();
        seen.push({ same: getUser("1") === first, scope: currentScope()?.id });
        yield "third";
      });
    await using server = listenElysia(app);
    assert.equal(await (await fetch(server.url)).text(), "first second third");
    assert.equal(runs.length, 1);
    assert.deepEqual(seen, [{ same: true, scope: runs[0] }, { same: true, scope: runs[0] }]);
    await eventually(() => signal.aborted, "the scope ended", 10_000);
    assert.equal(whyEnded(signal), "the response was sent");
  },
);

onBun(
  "a ReadableStream or a Response with a stream body keeps the scope until the body was read",
  async () => {
    const { getUser, runs } = countedUser();
    const signals: AbortSignal[] = [];
    const body = () => {
      signals.push(cacheSignal()!);
      const first = getUser("1");
      let chunk = 0;
      return new ReadableStream<string>({
        async pull(controller) {
          await later();
          if (chunk++ === 2) return controller.close();
          controller.enqueue(
            getUser("1") === first && currentScope() !== undefined ? "ok " : "no ",
          );
        },
      });
    };
    const app = new Elysia()
      .use(cacheScope())
      .get("/stream", () => body())
      .get("/response", () =>
        new Response(body().pipeThrough(new TextEncoderStream()), {
          headers: { "content-type": "text/plain" },
        }));
    await using server = listenElysia(app);
    assert.equal(await (await fetch(`${server.url}stream`)).text(), "ok ok ");
    assert.equal(await (await fetch(`${server.url}response`)).text(), "ok ok ");
    assert.equal(runs.length, 2, "one run per request");
    await eventually(() => signals.every((s) => s.aborted), "both scopes ended", 10_000);
    assert.deepEqual(signals.map(whyEnded), ["the response was sent", "the response was sent"]);
  },
);

onBun("waitForBody: false ends the scope when the handler returns, before the body", async () => {
  let signal!: AbortSignal;
  let inBody: string | undefined = "not run";
  const app = new Elysia()
    .use(cacheScope({ waitForBody: false }))
    .get("/", async function* () {
      signal = cacheSignal()!;
      yield "first ";
      await later();
      await later();
      inBody = currentScope()?.id;
      yield "second";
    });
  await using server = listenElysia(app);
  assert.equal(await (await fetch(server.url)).text(), "first second");
  await eventually(() => signal.aborted, "the scope ended", 10_000);
  assert.equal(whyEnded(signal), "the handler returned");
  assert.equal(inBody, undefined);
});

onBun(
  "a client that goes away while the handler runs ends the scope, and the reason says so",
  async () => {
    const running = Promise.withResolvers<void>();
    const gone = Promise.withResolvers<string>();
    const app = new Elysia()
      .use(cacheScope())
      .get("/", async () => {
        const signal = cacheSignal()!;
        // Bounded: the test fails on a missing abort, not on a timeout of the runner's.
        const timer = setTimeout(() => gone.resolve("still running after 20 s"), 20_000);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          gone.resolve(whyEnded(signal));
        }, { once: true });
        running.resolve();
        await gone.promise;
        return "unused";
      });
    await using server = listenElysia(app);
    const client = new AbortController();
    const request = fetch(server.url, { signal: client.signal }).catch(() => "aborted");
    await running.promise;
    client.abort();
    assert.equal(await request, "aborted");
    assert.equal(await gone.promise, "the client went away");
  },
);

onBun("a client that goes away in the middle of a generator's body ends the scope", async () => {
  const gone = Promise.withResolvers<string>();
  let stopped = false;
  const app = new Elysia()
    .use(cacheScope())
    .get("/", async function* () {
      const signal = cacheSignal()!;
      signal.addEventListener("abort", () => gone.resolve(whyEnded(signal)), { once: true });
      try {
        for (let i = 0; i < 2_000; i++) {
          yield `chunk ${i}\n`;
          await later();
        }
        gone.resolve("the body ran to its end");
      } finally {
        stopped = true;
      }
    });
  await using server = listenElysia(app);
  const client = new AbortController();
  const response = await fetch(server.url, { signal: client.signal });
  const reader = response.body!.getReader();
  await reader.read();
  client.abort();
  await reader.closed.catch(() => {});
  assert.equal(await gone.promise, "the client went away");
  await eventually(() => stopped, "the generator was stopped", 10_000);
});
