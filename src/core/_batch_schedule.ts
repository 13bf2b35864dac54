/**
 * When a batch of a `perRequestBatch` function leaves: after the current tick (DataLoader's
 * rule), or when the `schedule` option calls its `dispatch`, and in any case once the batch is
 * full or its scope has ended.
 */
import type { ValidBatchOptions } from "./_batch_options.ts";
import type { EntryTable } from "./_entry_table.ts";
import { type BatchFn, dispatch, failUnsent, type PendingBatch } from "./_pending_batch.ts";

/**
 * The tables whose scope already has the end listener that sends their pending batch. One per
 * (scope, function), not one per batch: a listener stays until its scope ends, and one per batch
 * would keep every batch a long-lived scope ever made (its keys, its entries), with or without
 * `cache: false`.
 */
const sentAtEnd = new WeakSet<EntryTable>();

/**
 * Starts the wait of a batch just made, with its first key in it: `options.schedule` decides
 * when it leaves, or DataLoader's rule (see `afterTick`) when there is none.
 */
export function scheduleBatch(
  batch: PendingBatch,
  batchFn: BatchFn,
  options: ValidBatchOptions,
): void {
  const { schedule } = options;
  if (schedule === undefined) return afterTick(() => dispatch(batch, batchFn, options));
  // A dispatch asked for while `schedule` still runs waits for it to return: had the batch left
  // at once, a throw after it would have nowhere to go, since the loads are the batch's by then.
  let scheduling = true;
  let asked = false;
  const leave = () => {
    if (scheduling) asked = true;
    else dispatch(batch, batchFn, options); // a batch already sent is left alone
  };
  batch.leave = leave;
  // A schedule that never dispatches must not hold the loads forever: the scope's end sends them
  // (outside any scope, as dispatch does for a scope that has ended), so every load settles.
  // Only the table's pending batch can still be unsent: the listener reads it at the end.
  const table = batch.table!;
  if (!sentAtEnd.has(table)) {
    sentAtEnd.add(table);
    batch.scope!.onEnd(() => (table.pending as PendingBatch | undefined)?.leave?.());
  }
  try {
    schedule(leave);
  } catch (error) {
    scheduling = false;
    return failUnsent(batch, scheduleFailed(options.name, error), options);
  }
  scheduling = false;
  if (asked) dispatch(batch, batchFn, options);
}

/** The error of every load of a batch whose `schedule` threw. */
function scheduleFailed(name: string, cause: unknown): Error {
  return new Error(
    `Cannot load ${name}: its schedule option threw before the batch left, with the error that is this error's cause`,
    { cause },
  );
}

/**
 * Runs `job` once the promise jobs already queued have run: DataLoader's rule for when a batch
 * is dispatched, so that loads made in one tick, and in the `then` callbacks that tick queues,
 * are collected into one batch.
 *
 * Where there is a `process.nextTick` (Node, Deno, Bun, workerd with Node compatibility), the
 * job is queued from a resolved promise's `then`, and from there on the next-tick queue: a
 * promise job queued now runs before that `then` callback, and the next-tick queue runs only
 * after the promise job queue is empty again, so resolvers that `await` one level before they
 * load (graphql-js resolving a list's fields) still make it into the batch. Nothing I/O-bound
 * waits for it, though: the next-tick queue runs before the event loop moves on. Without
 * `process`, `setImmediate` or a zero timer does the same, one turn of the loop later.
 *
 * The job runs in whatever async context the scheduler carries; the batch does not rely on it
 * (see `dispatch`).
 */
function afterTick(job: () => void): void {
  const process = (globalThis as { process?: { nextTick?: (job: () => void) => void } }).process;
  if (typeof process?.nextTick === "function") {
    (resolved ??= Promise.resolve()).then(() => process.nextTick!(job));
  } else if (typeof setImmediate === "function") {
    setImmediate(job);
  } else {
    setTimeout(job, 0);
  }
}

let resolved: Promise<void> | undefined;
