import { type Meter, metrics, trace, type Tracer } from "@opentelemetry/api";
import {
  channelsAvailable,
  computeChannel,
  type DiagnosticsChannel,
  dispatchChannel,
  scopeEndChannel,
  scopeStartChannel,
} from "../core/_channels.ts";
import { checkOptionNames, describe } from "../_errors.ts";
import { CacheTelemetry } from "./_cache_telemetry.ts";
import { holdCallActivation } from "./_call_activation.ts";

/**
 * What `instrumentCache` needs of an OpenTelemetry `TracerProvider`: the SDK's provider, or the
 * API's `trace.getTracerProvider()`, fits. Declared here so that the public types do not lean
 * on the API package's.
 */
export interface TracerProviderLike {
  /** The API's `getTracer(name, version?)`; its result must be an API `Tracer`. */
  getTracer(name: string, version?: string): object;
}

/** What `instrumentCache` needs of an OpenTelemetry `MeterProvider` (see {@linkcode TracerProviderLike}). */
export interface MeterProviderLike {
  /** The API's `getMeter(name, version?)`; its result must be an API `Meter`. */
  getMeter(name: string, version?: string): object;
}

/** Options of {@linkcode instrumentCache}. */
export interface InstrumentCacheOptions {
  /**
   * Where the spans of misses go.
   *
   * @default {trace.getTracerProvider()} the global provider, read when `instrumentCache` is called
   */
  tracerProvider?: TracerProviderLike;
  /**
   * Where `reqcache.calls` and `reqcache.batch.size` go.
   *
   * @default {metrics.getMeterProvider()} the global provider, read when `instrumentCache` is called
   */
  meterProvider?: MeterProviderLike;
}

/** The instrumentation scope of every tracer and meter this entry point makes. */
const INSTRUMENTATION_SCOPE = "@reqcache/core";
const ACTION = "instrument the cache";

/**
 * Records the cache's work with OpenTelemetry, from the `node:diagnostics_channel` messages
 * the core publishes: a counter `reqcache.calls` (attributes `reqcache.function`,
 * `reqcache.outcome`), a histogram `reqcache.batch.size` (`reqcache.function`), a span
 * `reqcache <function name>` for every miss and for every call of a batch function (with
 * `reqcache.batch.size`), and the attributes `reqcache.hits`, `reqcache.misses` and
 * `reqcache.joins` on the span that was active when each scope opened (the server's request
 * span), written when that span ends.
 *
 * A miss's or batch's span is a child of the span active at the call (or of the request's span),
 * ends when the function returns or its promise settles, with an error status if it throws or
 * rejects, and is active while the function runs: a span the function starts, after any number
 * of awaits, is its child. Hits and joins make no span and publish nothing: they are counted
 * from the scopes' own counters, so an instrumented hit costs what an uninstrumented one does.
 *
 * Each call is its own subscription; disposing it unsubscribes it alone. It never breaks a
 * request: if a tracer, meter or exporter throws while a message is handled, the error is
 * reported once per subscription with `console.error` and the request goes on. Register the
 * global providers before calling it, or pass them: a global meter provider registered later
 * is not seen.
 *
 * @param options The providers to use instead of the global ones.
 * @returns The subscription: dispose it (`using`) to stop recording.
 * @throws {TypeError} If an option is not a provider or not an option, or if the runtime has
 * no `node:diagnostics_channel` (workerd without `nodejs_compat`).
 * A provider that throws while the tracer, meter and instruments are made here throws
 * through: that is setup, not a request.
 *
 * @example Spans and counts of a request
 * ```ts
 * import { context, trace } from "@opentelemetry/api";
 * import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
 * import {
 *   InMemorySpanExporter,
 *   SimpleSpanProcessor,
 *   TracerProvider,
 * } from "@opentelemetry/sdk-trace";
 * import { perRequestCache, runInCacheScope } from "@reqcache/core";
 * import { instrumentCache } from "@reqcache/core/otel";
 * import assert from "node:assert/strict";
 *
 * context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
 * const exporter = new InMemorySpanExporter();
 * const tracerProvider = new TracerProvider({
 *   spanProcessors: [new SimpleSpanProcessor({ exporter })],
 * });
 * const getUser = perRequestCache(async (id: string) => ({ id }), { name: "getUser" });
 *
 * {
 *   using _instrumented = instrumentCache({ tracerProvider });
 *   const tracer = tracerProvider.getTracer("my-server");
 *   await tracer.startActiveSpan("GET /users/42", async (request) => {
 *     await runInCacheScope({ url: "/users/42" }, async () => {
 *       await getUser("42"); // a miss: span "reqcache getUser"
 *       await getUser("42"); // a hit: no span
 *     });
 *     request.end();
 *   });
 * }
 * await tracerProvider.forceFlush();
 * const [miss, request] = exporter.getFinishedSpans();
 * assert.equal(miss.name, "reqcache getUser");
 * assert.equal(miss.parentSpanContext?.spanId, request.spanContext().spanId);
 * assert.equal(request.attributes["reqcache.hits"], 1);
 * assert.equal(request.attributes["reqcache.misses"], 1);
 * ```
 */
export function instrumentCache(options?: InstrumentCacheOptions): Disposable {
  const valid = getValidInstrumentOptions(options);
  if (!channelsAvailable) {
    throw new TypeError(
      `Cannot ${ACTION}: this runtime has no node:diagnostics_channel; on Cloudflare Workers, turn on the nodejs_compat compatibility flag`,
    );
  }
  const tracerProvider = valid.tracerProvider ?? trace.getTracerProvider();
  const meterProvider = valid.meterProvider ?? metrics.getMeterProvider();
  let reported = false;
  const report = (error: unknown): void => {
    if (reported) return;
    reported = true;
    console.error(
      "@reqcache/core/otel: a tracer, meter or exporter threw while recording the cache; the request went on. Later errors of this instrumentCache() subscription are not reported.",
      error,
    );
  };
  const guard = (work: () => void): void => {
    try {
      work();
    } catch (error) {
      report(error);
    }
  };
  const telemetry = new CacheTelemetry(
    tracerProvider.getTracer(INSTRUMENTATION_SCOPE) as Tracer,
    meterProvider.getMeter(INSTRUMENTATION_SCOPE) as Meter,
    guard,
  );
  // One listener object per channel and per subscription, so that disposing this one
  // unsubscribes exactly these. `reqcache:call` and `reqcache:batch` are not among them: a hit
  // must cost nothing more instrumented, so calls are counted from the scopes' own counters.
  const listen = (handle: (message: never) => void) => (message: unknown): void => {
    try {
      handle.call(telemetry, message as never);
    } catch (error) {
      report(error);
    }
  };
  const returned = listen(telemetry.callReturned);
  const settled = listen(telemetry.callSettled);
  const failed = listen(telemetry.callFailed);
  const listeners: [DiagnosticsChannel, (message: unknown) => void][] = [
    [scopeStartChannel, listen(telemetry.scopeStarted)],
    [scopeEndChannel, listen(telemetry.scopeEnded)],
    [computeChannel.start, listen(telemetry.computeStarted)],
    [dispatchChannel.start, listen(telemetry.dispatchStarted)],
  ];
  for (const channel of [computeChannel, dispatchChannel]) {
    listeners.push([channel.end, returned], [channel.asyncEnd, settled], [channel.error, failed]);
  }
  for (const [channel, listener] of listeners) channel.subscribe(listener);
  const release = holdCallActivation();
  return {
    [Symbol.dispose](): void {
      for (const [channel, listener] of listeners) channel.unsubscribe(listener);
      release();
    },
  };
}

/** The options, checked once: each given provider must have its factory method. */
function getValidInstrumentOptions(options: unknown): InstrumentCacheOptions {
  if (options === undefined) return {};
  const own = checkOptionNames(options, ["tracerProvider", "meterProvider"], ACTION);
  const valid: InstrumentCacheOptions = {};
  if (own.tracerProvider !== undefined) {
    valid.tracerProvider = provider(
      own.tracerProvider,
      "tracerProvider",
      "TracerProvider",
      "getTracer",
    );
  }
  if (own.meterProvider !== undefined) {
    valid.meterProvider = provider(own.meterProvider, "meterProvider", "MeterProvider", "getMeter");
  }
  return valid;
}

function provider<P>(value: unknown, option: string, type: string, method: string): P {
  if (
    typeof value !== "object" || value === null ||
    typeof (value as Record<string, unknown>)[method] !== "function"
  ) {
    throw new TypeError(
      `Cannot ${ACTION}: ${option} must be a ${type} (an object with a ${method} method), received ${
        describe(value)
      }`,
    );
  }
  return value as P;
}
