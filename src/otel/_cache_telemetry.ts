import {
  type Attributes,
  type Context,
  context,
  type Histogram,
  type Meter,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TimeInput,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import type {
  CacheComputeMessage,
  CacheDispatchMessage,
  CacheScopeEndMessage,
  CacheScopeStartMessage,
} from "../core/cache_channels.ts";
import type { CacheScope, CacheScopeStats } from "../core/cache_scope.ts";
import { activateIn } from "./_call_activation.ts";

type Outcome = "hit" | "miss" | "join";
const OUTCOMES: readonly Outcome[] = ["hit", "miss", "join"];

/** Calls by outcome: of one function (for `reqcache.calls`), or under one request span. */
type OutcomeCounts = Record<Outcome, number>;

/** One cached function's calls by outcome, and the attributes each count is reported with. */
interface FunctionCalls {
  counts: OutcomeCounts;
  attributes: Record<Outcome, Attributes>;
}

/** The calls made under one request span: by its scopes that ended, and its live scopes. */
interface RequestTally {
  ended: OutcomeCounts;
  live: Set<CacheScope>;
}

/** A traced call's message: a miss's (`reqcache:compute`) or a batch's (`reqcache:dispatch`). */
type TracedMessage = CacheComputeMessage | CacheDispatchMessage;

/**
 * What one `instrumentCache()` subscription makes of the channels' messages, built from the
 * messages alone. Every handler runs inside a diagnostics_channel publish, where a throw
 * would surface as an uncaught exception: the subscription wraps each one (see
 * `instrument_cache.ts`), and the request span's `end` goes through `guard` for the same reason.
 *
 * Hits and joins publish nothing here: nobody subscribes to `reqcache:call`, so a hit costs
 * what it costs uninstrumented. Calls are counted from the scopes' own counters instead, read
 * from the stats of `reqcache:scope:end` (for `reqcache.calls`) and of the live scopes when a
 * request span ends (for its attributes).
 */
export class CacheTelemetry {
  #tracer: Tracer;
  /** `reqcache.calls`, counted here and reported when the meter collects (an observable counter). */
  #calls = new Map<string, FunctionCalls>();
  #batchSize: Histogram;
  #guard: (work: () => void) => void;
  /** The recording span that was active when each live scope opened. */
  #requestSpans = new WeakMap<CacheScope, Span>();
  /** Keyed by span, not scope: nested scopes of one request add up on its span. */
  #tallies = new WeakMap<Span, RequestTally>();
  /** The span of each traced call in flight, by its message. */
  #spans = new WeakMap<TracedMessage, Span>();

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
    let tally = this.#tallies.get(span);
    if (tally === undefined) {
      tally = { ended: { hit: 0, miss: 0, join: 0 }, live: new Set() };
      this.#tallies.set(span, tally);
      this.#countOnEnd(span, tally);
    }
    tally.live.add(scope);
  }

  /** Counts the scope's calls: into `reqcache.calls`, and into its request span's tally. */
  scopeEnded({ scope, stats }: CacheScopeEndMessage): void {
    for (const { name, hits, misses, joins } of stats.functions) {
      let calls = this.#calls.get(name);
      if (calls === undefined) this.#calls.set(name, calls = functionCalls(name));
      calls.counts.hit += hits;
      calls.counts.miss += misses;
      calls.counts.join += joins;
    }
    const span = this.#requestSpans.get(scope);
    if (span === undefined) return;
    this.#requestSpans.delete(scope);
    const tally = this.#tallies.get(span)!;
    tally.live.delete(scope);
    add(tally.ended, stats);
  }

  /**
   * Writes the counts onto the request span when it ends, whoever ends it. The server may end
   * that span before the scope ends (a scope outlives its handler until the response is sent),
   * and a hit publishes nothing to count it by, so the span's own `end` is the one moment that
   * is both late enough and still on time: this wraps that one span object's `end` (a public
   * method, called as before), at most once per span and subscription. The alternative, a span
   * processor's `onEnding`, can only be given to a provider when it is made.
   */
  #countOnEnd(span: Span, tally: RequestTally): void {
    const end = span.end;
    span.end = (endTime?: TimeInput): void => {
      this.#guard(() => {
        if (!span.isRecording()) return;
        const counts = { ...tally.ended };
        for (const scope of tally.live) add(counts, scope.stats);
        span.setAttributes({
          "reqcache.hits": counts.hit,
          "reqcache.misses": counts.miss,
          "reqcache.joins": counts.join,
        });
      });
      end.call(span, endTime);
    };
  }

  /** `start` of a miss: its span, made active for the function's run (`_call_activation.ts`). */
  computeStarted(message: CacheComputeMessage): void {
    this.#startSpan(message, { "reqcache.function": message.name });
  }

  /** `start` of a batch: one span for the batch function's run, and its size. */
  dispatchStarted(message: CacheDispatchMessage): void {
    const size = message.keys.length;
    this.#batchSize.record(size, { "reqcache.function": message.name });
    this.#startSpan(message, { "reqcache.function": message.name, "reqcache.batch.size": size });
  }

  /** `end`: a call that did not return a native promise is over (it has `result` or `error`). */
  callReturned(message: TracedMessage): void {
    if ("result" in message || "error" in message) this.#endSpan(message);
  }

  /** `asyncEnd`: a returned promise settled. */
  callSettled(message: TracedMessage): void {
    this.#endSpan(message);
  }

  /**
   * `error`: OpenTelemetry's conventions for a failed operation, the exception as an event,
   * `error.type`, and an error status with the message. The span ends at `end` or `asyncEnd`.
   */
  callFailed(message: TracedMessage): void {
    const span = this.#spans.get(message);
    if (span === undefined) return;
    const { error } = message;
    const isError = error instanceof Error;
    span.recordException(isError ? error : String(error));
    span.setAttribute("error.type", isError ? error.constructor.name : "_OTHER");
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: isError ? error.message : String(error),
    });
  }

  #startSpan(message: TracedMessage, attributes: Attributes): void {
    const parent = this.#parentOf(message.scope);
    const span = this.#tracer.startSpan(`reqcache ${message.name}`, {
      kind: SpanKind.INTERNAL,
      attributes,
    }, parent);
    this.#spans.set(message, span);
    activateIn(message, trace.setSpan(parent, span));
  }

  #endSpan(message: TracedMessage): void {
    const span = this.#spans.get(message);
    if (span === undefined) return;
    this.#spans.delete(message);
    span.end();
  }

  /**
   * The span active at the call, else the span of the call's request: a batch is dispatched
   * from wherever the scheduler runs it, and a call must never start a trace of its own when its
   * request has one.
   */
  #parentOf(scope: CacheScope): Context {
    const active = context.active();
    if (trace.getSpan(active) !== undefined) return active;
    const request = this.#requestSpans.get(scope);
    return request === undefined ? active : trace.setSpan(active, request);
  }
}

function add(counts: OutcomeCounts, stats: CacheScopeStats): void {
  counts.hit += stats.hits;
  counts.miss += stats.misses;
  counts.join += stats.joins;
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
