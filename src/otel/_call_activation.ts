/**
 * Which OpenTelemetry context a traced call runs in: the core's one hook for it (see
 * `setCallActivation` in `core/_traced_calls.ts`), set while at least one `instrumentCache()`
 * subscription exists. The `start` listener of a subscription names the context a call's span
 * is active in (`activateIn`); the hook then runs the call through the public `context.with`,
 * so every span the function starts, after any number of awaits, descends from the call's span.
 * Where several subscriptions each make a span for one call, the last one's span is the active
 * one: spans the function starts are its children only.
 */
import { type Context, context } from "@opentelemetry/api";
import { type CallActivation, setCallActivation } from "../core/_traced_calls.ts";

/** The context each traced call runs in, by the call's message (one object per call). */
const contexts = new WeakMap<object, Context>();
let subscriptions = 0;

/** Makes `active` the context the call of `message` runs in. */
export function activateIn(message: object, active: Context): void {
  contexts.set(message, active);
}

/** Turns the hook on for one more subscription; the returned function turns it off for it. */
export function holdCallActivation(): () => void {
  if (subscriptions++ === 0) setCallActivation(runInContext);
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    if (--subscriptions === 0) setCallActivation(undefined);
  };
}

const runInContext: CallActivation = (message, fn, thisArg, args) => {
  const active = contexts.get(message);
  if (active === undefined) return fn.apply(thisArg, args as never[]);
  return context.with(active, fn as (...args: unknown[]) => unknown, thisArg, ...args);
};
