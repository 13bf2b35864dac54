/**
 * OpenTelemetry for @reqcache/core: `instrumentCache()` turns the cache's
 * `node:diagnostics_channel` messages into a `reqcache.calls` counter, a `reqcache.batch.size`
 * histogram, a span per miss and per batch (active while the function runs, so the spans it starts
 * are its children), and hit, miss and join counts on the request's span. `@opentelemetry/api` is the only peer of this entry point; the core has no
 * dependency.
 *
 * @example
 * ```ts
 * import { InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, AggregationTemporality } from "@opentelemetry/sdk-metrics";
 * import { perRequestCache, runInCacheScope } from "@reqcache/core";
 * import { instrumentCache } from "@reqcache/core/otel";
 * import assert from "node:assert/strict";
 *
 * const reader = new PeriodicExportingMetricReader({
 *   exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
 * });
 * const meterProvider = new MeterProvider({ readers: [reader] });
 * const double = perRequestCache((n: number) => n * 2, { name: "double" });
 *
 * using _instrumented = instrumentCache({ meterProvider });
 * runInCacheScope({ url: "/" }, () => [double(1), double(1), double(2)]);
 *
 * const { resourceMetrics } = await reader.collect();
 * const calls = resourceMetrics.scopeMetrics[0].metrics[0];
 * assert.equal(calls.descriptor.name, "reqcache.calls");
 * const byOutcome = Object.fromEntries(
 *   calls.dataPoints.map(({ attributes, value }) => [attributes["reqcache.outcome"], value]),
 * );
 * assert.deepEqual(byOutcome, { miss: 2, hit: 1 });
 * await meterProvider.shutdown();
 * ```
 *
 * @module
 */
export * from "./src/otel/instrument_cache.ts";
