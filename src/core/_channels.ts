/**
 * The package's `node:diagnostics_channel` channels, and the only code that publishes on them
 * (with `_traced_calls.ts` for the two TracingChannels).
 *
 * Publishing is always guarded by `channel.hasSubscribers` at the call site, so that with
 * nobody listening a cache hit or a scope costs one getter read more and builds no message:
 * that is the rule `bench/` holds the hot paths to. The message shapes are public, in
 * `cache_channels.ts`; this file cannot import them (nor `ScopeState`), since the scope state
 * imports this file and the tree allows no other import circle, so scopes are typed `object`.
 *
 * The module is loaded with `process.getBuiltinModule`, never imported: on workerd with only
 * `nodejs_als` (before the 2026-08-04 compatibility date, when `nodejs_compat` became the
 * default), `node:diagnostics_channel` does not exist and a static import would stop the
 * whole Worker from loading. There the channels are inert stand-ins that never have
 * subscribers.
 */

/** The part of a `node:diagnostics_channel` channel used here. */
export interface DiagnosticsChannel {
  readonly name: string;
  readonly hasSubscribers: boolean;
  publish(message: unknown): void;
  subscribe(listener: (message: unknown, name: string | symbol) => void): void;
  unsubscribe(listener: (message: unknown, name: string | symbol) => void): boolean;
}

/** The part of a `node:diagnostics_channel` TracingChannel used here: its five channels. */
export interface TracingChannel {
  readonly start: DiagnosticsChannel & {
    runStores<A extends unknown[], R>(
      message: object,
      fn: (...args: A) => R,
      thisArg: unknown,
      ...args: A
    ): R;
  };
  readonly end: DiagnosticsChannel;
  readonly asyncStart: DiagnosticsChannel;
  readonly asyncEnd: DiagnosticsChannel;
  readonly error: DiagnosticsChannel;
}

/** What a call of a cached function was: see `CacheCallMessage` in `cache_channels.ts`. */
export type CallOutcome = "hit" | "miss" | "join";

/** `node:diagnostics_channel`, or `undefined` on a runtime that does not provide it. */
function loadDiagnosticsChannel():
  | { channel(name: string): DiagnosticsChannel; tracingChannel?(name: string): TracingChannel }
  | undefined {
  const process = (globalThis as {
    process?: { getBuiltinModule?: (name: string) => unknown };
  }).process;
  try {
    const loaded = process?.getBuiltinModule?.("node:diagnostics_channel") as
      | { channel?: unknown; tracingChannel?: unknown }
      | undefined;
    return typeof loaded?.channel === "function"
      ? loaded as {
        channel(name: string): DiagnosticsChannel;
        tracingChannel?(name: string): TracingChannel;
      }
      : undefined;
  } catch {
    return undefined; // listed but not provided: the same as absent
  }
}

const diagnostics = loadDiagnosticsChannel();

/** Whether this runtime has `node:diagnostics_channel`, so that a subscription can work. */
export const channelsAvailable: boolean = diagnostics !== undefined;

function channel(name: string): DiagnosticsChannel {
  return diagnostics === undefined ? inertChannel(name) : diagnostics.channel(name);
}

/** A channel that never has subscribers, where there is no module to make one. */
function inertChannel(name: string): DiagnosticsChannel {
  return {
    name,
    hasSubscribers: false,
    publish() {},
    subscribe() {},
    unsubscribe: () => false,
  };
}

/** A TracingChannel, or inert stand-ins where the module has none (as it may on workerd). */
function tracingChannel(name: string): TracingChannel {
  if (typeof diagnostics?.tracingChannel === "function") return diagnostics.tracingChannel(name);
  const inert = (event: string) => inertChannel(`tracing:${name}:${event}`);
  return {
    start: {
      ...inert("start"),
      runStores: (_message, fn, thisArg, ...args) => fn.apply(thisArg, args),
    },
    end: inert("end"),
    asyncStart: inert("asyncStart"),
    asyncEnd: inert("asyncEnd"),
    error: inert("error"),
  };
}

// Held here for the life of the process: Node keeps channels weakly, and a subscriber added
// through one of these objects must not be collected with it.
/** `{ scope }`, when a scope opens (not when an opening joins a live one). */
export const scopeStartChannel: DiagnosticsChannel = channel("reqcache:scope:start");
/** `{ scope, stats, reason }`, when a scope's last handle is released. */
export const scopeEndChannel: DiagnosticsChannel = channel("reqcache:scope:end");
/** `{ scope, name, outcome, result }`, for every call of a cached function inside a scope. */
export const callChannel: DiagnosticsChannel = channel("reqcache:call");
/** `{ scope, name, size }`, for every batch a batching function runs. */
export const batchChannel: DiagnosticsChannel = channel("reqcache:batch");

/**
 * `tracing:reqcache:compute:*`: the call of a cached function on a miss (see `_traced_calls.ts`).
 * Its events and their fields are those of Node's `traceSync` / `tracePromise`.
 */
export const computeChannel: TracingChannel = tracingChannel("reqcache:compute");
/** `tracing:reqcache:dispatch:*`: the call of a batch function (see `_traced_calls.ts`). */
export const dispatchChannel: TracingChannel = tracingChannel("reqcache:dispatch");

/** Publishes a scope's opening; `scope` is its public handle. */
export function publishScopeStart(scope: object): void {
  scopeStartChannel.publish({ scope });
}

/** Publishes a scope's end, with the stats it had before its entries were dropped. */
export function publishScopeEnd(scope: object, stats: object, reason: Error): void {
  scopeEndChannel.publish({ scope, stats, reason });
}

/** Publishes a call, classified where the cached function answered it. */
export function publishCall(
  scope: object,
  name: string,
  outcome: CallOutcome,
  result: unknown,
): void {
  callChannel.publish({ scope, name, outcome, result });
}

/** Publishes one batch of `size` keys run by the batching function `name`. */
export function publishBatch(scope: object, name: string, size: number): void {
  batchChannel.publish({ scope, name, size });
}
