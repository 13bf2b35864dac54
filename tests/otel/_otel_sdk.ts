/**
 * The real OpenTelemetry SDK as the otel tests use it: `@opentelemetry/sdk-trace` 3.x with its
 * in-memory exporter, `@opentelemetry/sdk-metrics` 3.x read on demand, and the
 * `AsyncLocalStorage` context manager of `@opentelemetry/context-async-hooks`, registered
 * globally once (the API keeps one context manager per process).
 */
import { context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

/** A reader that exports nothing and keeps no timer: the test collects when it wants to. */
class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** A tracer and a meter provider for one test, with what they recorded. */
export interface Sdk extends AsyncDisposable {
  readonly tracerProvider: TracerProvider;
  readonly meterProvider: MeterProvider;
  /** Both, as `instrumentCache` takes them. */
  readonly providers: { tracerProvider: TracerProvider; meterProvider: MeterProvider };
  /** Every span ended so far. */
  spans(): Promise<ReadableSpan[]>;
  /** Each data point of `metric` as "attr=value,attr=value → value", sorted. */
  points(metric: string): Promise<string[]>;
}

export function startSdk(): Sdk {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const reader = new OnDemandReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    tracerProvider,
    meterProvider,
    providers: { tracerProvider, meterProvider },
    async spans() {
      await tracerProvider.forceFlush();
      return exporter.getFinishedSpans();
    },
    async points(metric) {
      const { resourceMetrics } = await reader.collect();
      const found = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics)
        .filter((data) => data.descriptor.name === metric);
      return found.flatMap((data) =>
        data.dataPoints.map((point) => {
          const attributes = Object.entries(point.attributes).map(([k, v]) => `${k}=${v}`);
          const value = point.value as number | { count: number; sum?: number };
          const shown = typeof value === "number"
            ? String(value)
            : `count=${value.count} sum=${value.sum}`;
          return `${attributes.sort().join(",")} → ${shown}`;
        })
      ).sort();
    },
    async [Symbol.asyncDispose]() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** The span's parent's id, or `undefined` for a root span. */
export function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}
