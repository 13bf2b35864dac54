/**
 * Issues 16 and 24: what `instrumentCache()` costs once it is on, against the same code with
 * nobody subscribed, in one run and interleaved: the sync hit path (issue 24's goal: at most 2×,
 * as a hit publishes nothing and is counted by its scope), and an in-process Hono request (a
 * request span made by the first middleware, `cacheScope()`, an async miss, a join, a hit, a sync
 * miss and nine sync hits). The instrumented cases record into the real SDK (`sdk-trace` 3.x and
 * `sdk-metrics` 3.x) with nothing exported, so the figure is what the package and the SDK's
 * recording cost, not an exporter's.
 *
 * This section runs last: a channel that has had subscribers may leave the engine's inline
 * caches of `hasSubscribers` polymorphic, so the no-subscriber figures of the micro section are
 * taken before anything here subscribes.
 */
import assert from "node:assert/strict";
import { do_not_optimize, measure } from "mitata";
import { Hono } from "hono";
import { context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { TracerProvider } from "@opentelemetry/sdk-trace";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { perRequestCache, runInCacheScope } from "../mod.ts";
import { cacheScope } from "../hono.ts";
import { instrumentCache } from "../otel.ts";
import {
  type Check,
  medianRatio,
  mitataTiming,
  ratioCheck,
  rotated,
  type Row,
  rowOf,
  type Section,
} from "./_section.ts";

class NoExportReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const reader = new NoExportReader();
const providers = {
  tracerProvider: new TracerProvider(),
  meterProvider: new MeterProvider({ readers: [reader] }),
};
let contextManagerSet = false;

const byId = perRequestCache((id: number) => ({ id }), { name: "byId" });
const getUser = perRequestCache(async (id: number) => ({ id }), { name: "getUser" });
const tracer = providers.tracerProvider.getTracer("bench server");
const app = new Hono();
app.use((_c, next) =>
  tracer.startActiveSpan("GET /", async (span) => {
    await next();
    span.end();
  })
);
app.use(cacheScope());
app.get("/", async (c) => {
  const [a, b] = await Promise.all([getUser(1), getUser(1)]); // a miss and a join
  await getUser(1); // a hit
  for (let i = 0; i < 10; i++) byId(1);
  return c.text(a === b ? "ok" : "not shared");
});

async function request(): Promise<void> {
  const response = await app.fetch(new Request("http://localhost/"));
  do_not_optimize(await response.text());
}

const HIT_OFF = "sync hit, nobody subscribed";
const HIT_ON = "sync hit, instrumentCache() on";
const REQUEST_OFF = "Hono request, nobody subscribed";
const REQUEST_ON = "Hono request, instrumentCache() on";

interface Case {
  name: string;
  instrumented: boolean;
  /** Runs `work` where the body must run (inside a scope for a hit). */
  within<T>(work: () => Promise<T>): Promise<T>;
  body(): unknown;
}

const inScope = <T>(work: () => Promise<T>): Promise<T> =>
  runInCacheScope({ url: "/bench" }, async () => {
    byId(1);
    return await work();
  });
const asIs = <T>(work: () => Promise<T>): Promise<T> => work();

const cases: readonly Case[] = [
  { name: HIT_OFF, instrumented: false, within: inScope, body: () => do_not_optimize(byId(1)) },
  { name: HIT_ON, instrumented: true, within: inScope, body: () => do_not_optimize(byId(1)) },
  { name: REQUEST_OFF, instrumented: false, within: asIs, body: request },
  { name: REQUEST_ON, instrumented: true, within: asIs, body: request },
];

/** Runs `work` with `instrumentCache()` on if `on`, and off again afterwards. */
async function instrumented<T>(on: boolean, work: () => Promise<T>): Promise<T> {
  if (!contextManagerSet) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    contextManagerSet = true;
  }
  if (!on) return await work();
  using _instrumentation = instrumentCache(providers);
  return await work();
}

export const telemetrySection: Section = {
  title: "Telemetry (issues 16 and 24): instrumentCache() on, against nobody subscribed",

  async measure(rounds) {
    await this.smoke();
    const perRound = new Map<string, number[]>(cases.map(({ name }) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const { name, instrumented: on, within, body } of rotated(cases, round)) {
        const stats = await instrumented(
          on,
          () => within(() => measure(body, { ...mitataTiming })),
        );
        perRound.get(name)!.push(stats.p50);
      }
    }
    const rows: Row[] = cases.map(({ name }) => rowOf(name, perRound.get(name)!));
    const ratio = (of: string, over: string, max: number | undefined): Check =>
      ratioCheck(`${of} / ${over}`, medianRatio(perRound.get(of)!, perRound.get(over)!), max);
    return {
      rows,
      checks: [ratio(HIT_ON, HIT_OFF, 2), ratio(REQUEST_ON, REQUEST_OFF, undefined)],
      notes: [
        `Recorded into sdk-trace 3.x and sdk-metrics 3.x with no exporter; a request has a span, a scope and 13 cached calls (2 misses, each a span; a join; 10 hits). Ratios: median of per-round ratios over ${rounds} round(s).`,
      ],
    };
  },

  async smoke() {
    for (const { instrumented: on, within, body } of cases) {
      await instrumented(on, () =>
        within(async () => {
          for (let i = 0; i < 3; i++) await body();
        }));
    }
    // The instrumented cases really recorded: every outcome of the request's calls is counted.
    const { resourceMetrics } = await reader.collect();
    const calls = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics)
      .find((metric) => metric.descriptor.name === "reqcache.calls");
    const outcomes = new Set(
      calls?.dataPoints.map((point) => point.attributes["reqcache.outcome"]),
    );
    assert.deepEqual([...outcomes].sort(), ["hit", "join", "miss"]);
  },
};
