import {
  type Attributes,
  context,
  type Histogram,
  type Meter,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import type {
  CacheBatchMessage,
  CacheCallMessage,
  CacheScopeEndMessage,
  CacheScopeStartMessage,
} from "../core/cache_channels.ts";
import type { CacheScope } from "../core/cache_scope.ts";

type Outcome = CacheCallMessage["outcome"];
const OUTCOMES: readonly Outcome[] = ["hit", "miss", "join"];

/** Calls by outcome: of one function (for `reqcache.calls`), or under one request span. */
type OutcomeCounts = Record<Outcome, number>;

/** The attribute on the request span that counts each outcome. */
const SPAN_ATTRIBUTES = {
  hit: "reqcache.hits",
  miss: "reqcache.misses",
  join: "reqcache.joins",
} as const;

/** One cached function's calls by outcome, and the attributes each count is reported with. */
interface FunctionCalls {
  counts: OutcomeCounts;
  attributes: Record<Outcome, Attributes>;
}

/**
 * What one `instrumentCache()` subscription makes of the channels' messages, built from the
 * messages alone. Every handler runs inside a diagnostics_channel publish, where a throw
 * would surface as an uncaught exception: the subscription wraps each one (see
 * `instrument_cache.ts`), and a promise callback here goes through `guard` for the same reason.
 */
export class CacheTelemetry {
  #tracer: Tracer;
  /**
   * `reqcache.calls`, counted here and reported when the meter collects (an observable
   * counter): a synchronous counter's `add` hashes its attributes on every call, which costs
   * a cache hit many times what the hit itself does.
   */
  #calls = new Map<string, FunctionCalls>();
  #batchSize: Histogram;
  #guard: (work: () => void) => void;
  /** The recording span that was active when each live scope opened. */
  #requestSpans = new WeakMap<CacheScope, Span>();
  /** Keyed by span, not scope: nested scopes of one request add up on its span. */
  #spanCounts = new WeakMap<Span, OutcomeCounts>();

  constructor(tracer: Tracer, meter: Meter, guard: (work: () => void) => void) {
    this.#tracer = tracer;
    this.#guard = guard;
    meter.createObservableCounter("reqcache.calls", {
      description: "Calls of cached functions inside a cache scope, by outcome",
      unit: "{call}",
    }).addCallback((result) => {
      for (const { counts, attributes } of this.#calls.values()) {
        for (const outcome of OUTCOMES) {
          if (counts[outcome] > 0) result.observe(counts[outcome], attributes[outcome]);
        }
      }
    });
    this.#batchSize = meter.createHistogram("reqcache.batch.size", {
      description: "Keys asked for in one batch of a batching function",
      unit: "{key}",
      advice: { explicitBucketBoundaries: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000] },
    });
  }

  /** The span active where the scope opens is the request's: it gets the three counts. */
  scopeStarted({ scope }: CacheScopeStartMessage): void {
    const span = trace.getSpan(context.active());
    if (span === undefined || !span.isRecording()) return;
    this.#requestSpans.set(scope, span);
    if (!this.#spanCounts.has(span)) {
      this.#spanCounts.set(span, { hit: 0, miss: 0, join: 0 });
      span.setAttributes({ "reqcache.hits": 0, "reqcache.misses": 0, "reqcache.joins": 0 });
    }
  }

  scopeEnded({ scope }: CacheScopeEndMessage): void {
    this.#requestSpans.delete(scope);
  }

  /**
   * Counts the call, keeps the request span's counts current (the server may end that span
   * as soon as the response is produced), and traces a miss that returned a promise.
   */
  called({ scope, name, outcome, result }: CacheCallMessage): void {
    let calls = this.#calls.get(name);
    if (calls === undefined) this.#calls.set(name, calls = functionCalls(name));
    calls.counts[outcome]++;
    const span = this.#requestSpans.get(scope);
    const counts = span === undefined ? undefined : this.#spanCounts.get(span);
    if (counts !== undefined && span!.isRecording()) {
      span!.setAttribute(SPAN_ATTRIBUTES[outcome], ++counts[outcome]);
    }
    // Only a native promise: calling `then` on another thenable may start its work.
    if (outcome === "miss" && result instanceof Promise) this.#traceMiss(name, result);
  }

  batched({ name, size }: CacheBatchMessage): void {
    this.#batchSize.record(size, { "reqcache.function": name });
  }

  /** A span from the call (the caller's active span is its parent) to the promise's settling. */
  #traceMiss(name: string, promise: Promise<unknown>): void {
    const span = this.#tracer.startSpan(`reqcache ${name}`, {
      kind: SpanKind.INTERNAL,
      attributes: { "reqcache.function": name },
    }, context.active());
    promise.then(
      () => this.#guard(() => span.end()),
      (error: unknown) =>
        this.#guard(() => {
          // OpenTelemetry's conventions for a failed operation: the exception as an event,
          // `error.type`, and an error status with the message.
          const isError = error instanceof Error;
          span.recordException(isError ? error : String(error));
          span.setAttribute("error.type", isError ? error.constructor.name : "_OTHER");
          span.setStatus({
            code: SpanStatusCode.ERROR,
            message: isError ? error.message : String(error),
          });
          span.end();
        }),
    );
  }
}

function functionCalls(name: string): FunctionCalls {
  const attributes = (outcome: Outcome) => ({
    "reqcache.function": name,
    "reqcache.outcome": outcome,
  });
  return {
    counts: { hit: 0, miss: 0, join: 0 },
    attributes: { hit: attributes("hit"), miss: attributes("miss"), join: attributes("join") },
  };
}
