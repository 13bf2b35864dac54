/**
 * `instrumentCache()`'s refusals, word for word, and what it does when the telemetry itself
 * fails: a provider, meter or exporter that throws is reported once and never breaks a request.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  context,
  type MeterProvider,
  type Span,
  trace,
  type TracerProvider,
} from "@opentelemetry/api";
import { SimpleSpanProcessor, TracerProvider as SdkTracerProvider } from "@opentelemetry/sdk-trace";
import { perRequestBatch, perRequestCache, runInCacheScope, withCacheScope } from "../../mod.ts";
import { instrumentCache } from "../../otel.ts";
import { startSdk } from "./_otel_sdk.ts";

test("options that are not an object, not known, or not providers are a TypeError", () => {
  const refusals: [unknown, string][] = [
    [
      "global",
      'Cannot instrument the cache: options must be an object, received the string "global"',
    ],
    [
      { tracer: {} },
      'Cannot instrument the cache: unknown option "tracer"; the options are tracerProvider, meterProvider',
    ],
    [
      { tracerProvider: {} },
      "Cannot instrument the cache: tracerProvider must be a TracerProvider (an object with a getTracer method), received an object",
    ],
    [
      { tracerProvider: null },
      "Cannot instrument the cache: tracerProvider must be a TracerProvider (an object with a getTracer method), received null",
    ],
    [
      { meterProvider: 5 },
      "Cannot instrument the cache: meterProvider must be a MeterProvider (an object with a getMeter method), received number 5",
    ],
  ];
  for (const [options, message] of refusals) {
    assert.throws(() => instrumentCache(options as never), { name: "TypeError", message });
  }
});

test("on a runtime without node:diagnostics_channel, instrumentCache() says what to turn on", async () => {
  // A fresh Bun process (Bun is the one binary every runner may start) in which
  // process.getBuiltinModule finds no node:diagnostics_channel, as on workerd with nodejs_als.
  const root = fileURLToPath(new URL("../../", import.meta.url));
  const script = `
    const find = process.getBuiltinModule.bind(process);
    process.getBuiltinModule = (name) => name === "node:diagnostics_channel" ? undefined : find(name);
    const { instrumentCache } = await import(${JSON.stringify(`${root}otel.ts`)});
    try { instrumentCache(); console.log("no error"); }
    catch (error) { console.log(JSON.stringify([error.name, error.message])); }
  `;
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(`${root}node_modules/.bin/bun`, ["--eval", script], { cwd: root });
    let text = "";
    child.stdout!.on("data", (chunk) => text += chunk);
    child.stderr!.on("data", (chunk) => text += chunk);
    child.once("error", reject);
    child.once("close", () => resolve(text.trim()));
  });
  assert.deepEqual(JSON.parse(output), [
    "TypeError",
    "Cannot instrument the cache: this runtime has no node:diagnostics_channel; on Cloudflare Workers, turn on the nodejs_compat compatibility flag",
  ]);
});

/** Runs `fn` with console.error recorded instead of printed. */
async function withErrorsRecorded(fn: () => Promise<void>): Promise<unknown[][]> {
  const reported: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => reported.push(args);
  try {
    await fn();
  } finally {
    console.error = original;
  }
  return reported;
}

const throwing = (what: string) => () => {
  throw new Error(`${what} is down`);
};

test("a tracer and a meter that throw are reported once, and every request goes on", async () => {
  const tracerProvider = {
    getTracer: () => ({ startSpan: throwing("tracer"), startActiveSpan: throwing("tracer") }),
  } as unknown as TracerProvider;
  const meterProvider = {
    getMeter: () => ({
      createObservableCounter: () => ({ addCallback() {} }),
      createHistogram: () => ({ record: throwing("meter") }),
    }),
  } as unknown as MeterProvider;
  const getUser = perRequestCache(async (id: string) => ({ id }), { name: "getUser" });
  const loadUsers = perRequestBatch((ids: readonly string[]) => ids, { name: "loadUsers" });
  const handler = withCacheScope(async (request: Request) => {
    const id = new URL(request.url).pathname.slice(1);
    assert.equal(await loadUsers(id), id); // the histogram throws
    const [a, b] = await Promise.all([getUser(id), getUser(id)]); // the tracer throws
    return Response.json({ same: a === b, id: (await getUser(id)).id });
  });
  const bodies: unknown[] = [];
  const reported = await withErrorsRecorded(async () => {
    using _instrumented = instrumentCache({ tracerProvider, meterProvider });
    for (const id of ["1", "2", "3"]) {
      bodies.push(await (await handler(new Request(`http://localhost/${id}`))).json());
    }
  });
  assert.deepEqual(bodies, ["1", "2", "3"].map((id) => ({ same: true, id })));
  assert.equal(reported.length, 1);
  assert.equal(
    reported[0][0],
    "@reqcache/core/otel: a tracer, meter or exporter threw while recording the cache; the request went on. Later errors of this instrumentCache() subscription are not reported.",
  );
  assert.match(String(reported[0][1]), /(meter|tracer) is down/);
});

test("a span that cannot be ended when its promise settles is reported, not thrown", async () => {
  const span = {
    isRecording: () => true,
    end: throwing("exporter"),
    recordException() {},
    setAttribute() {},
    setStatus() {},
  };
  const tracerProvider = {
    getTracer: () => ({ startSpan: () => span }),
  } as unknown as TracerProvider;
  const getUser = perRequestCache(async (id: string) => ({ id }), { name: "getUser" });
  let result: unknown;
  const reported = await withErrorsRecorded(async () => {
    using _instrumented = instrumentCache({ tracerProvider });
    result = await runInCacheScope({ url: "/" }, () => getUser("9"));
    await new Promise((resolve) => setTimeout(resolve, 0)); // the span's end runs after settling
  });
  assert.deepEqual(result, { id: "9" });
  assert.equal(reported.length, 1);
  assert.match(String(reported[0][1]), /exporter is down/);
});

test("an exporter that throws never reaches the request", async () => {
  let exports = 0;
  const tracerProvider = new SdkTracerProvider({
    spanProcessors: [
      new SimpleSpanProcessor({
        exporter: {
          export() {
            exports++;
            throw new Error("exporter is down");
          },
          shutdown: async () => {},
        },
      }),
    ],
  });
  const getUser = perRequestCache(async (id: string) => ({ id }), { name: "getUser" });
  using _instrumented = instrumentCache({ tracerProvider });
  const user = await runInCacheScope({ url: "/" }, () => getUser("4"));
  assert.deepEqual(user, { id: "4" });
  assert.equal(exports, 1); // the miss's span ended before its caller resumed
  await tracerProvider.shutdown();
});

test("batches are recorded in the reqcache.batch.size histogram by function", async () => {
  await using sdk = startSdk();
  using _instrumented = instrumentCache(sdk.providers);
  const loadUsers = perRequestBatch((ids: readonly number[]) => ids, {
    name: "loadUsers",
    maxBatchSize: 3,
  });
  const loadPosts = perRequestBatch((ids: readonly number[]) => ids, { name: "loadPosts" });
  await runInCacheScope({ url: "/" }, () =>
    Promise.all([
      loadUsers.many([1, 2, 3, 4, 5]),
      loadPosts.many([1, 2, 3, 4, 5, 6, 7]),
    ]));
  assert.deepEqual(await sdk.points("reqcache.batch.size"), [
    "reqcache.function=loadPosts → count=1 sum=7",
    "reqcache.function=loadUsers → count=2 sum=5",
  ]);
});

test("a request span that cannot take its counts is reported, and still ends", async () => {
  let ended = 0;
  const request = {
    spanContext: () => ({ traceId: "1".repeat(32), spanId: "2".repeat(16), traceFlags: 1 }),
    isRecording: () => ended === 0,
    setAttributes: throwing("request span"),
    end() {
      ended++;
    },
  } as unknown as Span;
  await using sdk = startSdk();
  const double = perRequestCache((n: number) => n * 2, { name: "double" });
  const reported = await withErrorsRecorded(async () => {
    using _instrumented = instrumentCache(sdk.providers);
    context.with(trace.setSpan(context.active(), request), () => {
      runInCacheScope({ url: "/" }, () => double(1) + double(1));
    });
    request.end();
  });
  assert.equal(ended, 1);
  assert.equal(reported.length, 1);
  assert.match(String(reported[0][1]), /request span is down/);
});
