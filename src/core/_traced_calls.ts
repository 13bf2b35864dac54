/**
 * The traced calls: a cached function's call on a miss (`reqcache:compute`) and a batch
 * function's call (`reqcache:dispatch`), each published on a `node:diagnostics_channel`
 * TracingChannel with the events, order and fields of Node's `traceSync` / `tracePromise`:
 * `start`; then `error` (with `error`) if the call throws; `end` (with `result` if it returned
 * something other than a native promise); and for a native promise, once it settles, `error`
 * (with `error`) on a rejection, then `asyncStart` and `asyncEnd` (with `result` when it
 * fulfilled).
 *
 * Neither `traceSync` nor `tracePromise` fits a cached function, which may return a promise or
 * not, and learns which only by calling it, so the events are published here by hand. The call
 * sites check {@linkcode computeTraced} / {@linkcode dispatchTraced} first and call exactly as
 * they do untraced while nobody listens: tracing costs a miss five getter reads and a hit nothing.
 *
 * A promise is followed as `tracePromise` follows it: the caller gets (and the cache stores) the
 * promise that `then` returns, not the function's own. The function's promise is handled by that `then`, and the
 * caller's promise rejects as the function's did, so a rejection that nobody handles still
 * surfaces as unhandled, from the promise the caller was given; following the function's
 * promise with a `then` whose result nobody holds would have silenced it.
 */
import {
  computeChannel,
  type DiagnosticsChannel,
  dispatchChannel,
  type TracingChannel,
} from "./_channels.ts";

/** The message of both channels; `result` and `error` are added as the call goes. */
interface TracedCall {
  readonly scope: object;
  readonly name: string;
  keys?: readonly unknown[];
  result?: unknown;
  error?: unknown;
}

/**
 * Runs a traced call in an async context of a subscriber's choosing. A subscriber of a channel
 * is told of a call but cannot wrap it, and OpenTelemetry makes a span current only through
 * `context.with` around the code that runs under it (its context manager's storage is its own;
 * binding a store of ours to `start` would not make the span active). So this one hook, set by
 * `@reqcache/core/otel` while an `instrumentCache()` subscription exists and read only on a
 * traced call, runs the function where the `start` subscriber's span is active: a span the
 * function starts, after any number of awaits, is then that span's child.
 */
export type CallActivation = (
  message: object,
  fn: (...args: never[]) => unknown,
  thisArg: unknown,
  args: readonly unknown[],
) => unknown;

let activation: CallActivation | undefined;

/** Sets (or with `undefined`, removes) the hook that traced calls run through. */
export function setCallActivation(hook: CallActivation | undefined): void {
  activation = hook;
}

/** Whether anyone listens to `reqcache:compute`: a miss's call is then {@linkcode traceCompute}d. */
export function computeTraced(): boolean {
  return isTraced(computeChannel);
}

/** Whether anyone listens to `reqcache:dispatch`: a batch's call is then {@linkcode traceDispatch}ed. */
export function dispatchTraced(): boolean {
  return isTraced(dispatchChannel);
}

/**
 * Whether anyone listens to one of the channel's events. Read from the five channels, since
 * Bun's TracingChannel has no `hasSubscribers` getter of its own.
 */
function isTraced(channel: TracingChannel): boolean {
  return channel.start.hasSubscribers || channel.end.hasSubscribers ||
    channel.asyncStart.hasSubscribers || channel.asyncEnd.hasSubscribers ||
    channel.error.hasSubscribers;
}

/** Calls a cached function on a miss, `fn.apply(receiver, args)`, on `reqcache:compute`. */
export function traceCompute(
  scope: object,
  name: string,
  fn: (...args: never[]) => unknown,
  receiver: unknown,
  args: readonly unknown[],
): unknown {
  const message: TracedCall = { scope, name };
  const channel = computeChannel;
  return channel.start.runStores(message, call, undefined, channel, message, fn, receiver, args);
}

/** Calls a batch function with `keys` (the message's `keys`), on `reqcache:dispatch`. */
export function traceDispatch(
  scope: object,
  name: string,
  batchFn: (keys: readonly unknown[]) => unknown,
  keys: readonly unknown[],
): unknown {
  const message: TracedCall = { scope, name, keys };
  const channel = dispatchChannel;
  return channel.start.runStores(message, call, undefined, channel, message, batchFn, undefined, [
    keys,
  ]);
}

/** The call, after `start` and inside its bound stores: `traceSync`'s events, or a promise's. */
function call(
  channel: TracingChannel,
  message: TracedCall,
  fn: (...args: never[]) => unknown,
  thisArg: unknown,
  args: readonly unknown[],
): unknown {
  try {
    const value = activation === undefined
      ? fn.apply(thisArg, args as never[])
      : activation(message, fn, thisArg, args);
    // Only a native promise: calling `then` on another thenable may start its work.
    if (value instanceof Promise) {
      return value.then(fulfilled(channel, message), rejected(channel, message));
    }
    message.result = value;
    return value;
  } catch (error) {
    message.error = error;
    channel.error.publish(message);
    throw error;
  } finally {
    channel.end.publish(message);
  }
}

function fulfilled(channel: TracingChannel, message: TracedCall) {
  return (result: unknown): unknown => {
    message.result = result;
    settled(channel.asyncStart, channel.asyncEnd, message);
    return result;
  };
}

function rejected(channel: TracingChannel, message: TracedCall) {
  return (error: unknown): never => {
    message.error = error;
    channel.error.publish(message);
    settled(channel.asyncStart, channel.asyncEnd, message);
    throw error;
  };
}

function settled(asyncStart: DiagnosticsChannel, asyncEnd: DiagnosticsChannel, message: object) {
  asyncStart.publish(message);
  asyncEnd.publish(message);
}
