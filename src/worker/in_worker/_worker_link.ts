/**
 * A pool worker's link to the main thread's shared entries (`_shared_entries.ts`), and what a
 * shared cached function does when it is called in such a worker.
 *
 * A local hit costs what it costs in one thread. A local miss asks the main thread and blocks
 * this worker until the answer comes: one round trip to the main thread (`npm run bench` prints
 * what it costs). Blocking is what lets a synchronous function stay synchronous and still
 * wait for the same computation running in another worker; a worker that runs one task at a
 * time loses nothing by it, and the main thread is never blocked.
 */
import { COMPUTING, FAILED, READY } from "../../core/_entry_table.ts";
import { reviveError, serializeError, sharedResultNotCloneableError } from "../_error_transfer.ts";
import type { ScopeState } from "../../core/_scope_state.ts";
import { cycleError } from "../../_errors.ts";
import { loadWorkerThreads } from "../_worker_threads_module.ts";
import type { ParentChannel } from "./_parent_channel.ts";
import {
  type FromWorker,
  type LookupAnswer,
  nameOfEntry,
  type Outcome,
  scopedEntryId,
} from "../_protocol.ts";
import { copiesOf, type SharedCopy } from "./_worker_scopes.ts";

/** How long one `Atomics.wait` lasts before the port is read again, as a guard only. */
const WAIT_SLICE_MS = 100;

let link: WorkerLink | undefined;

/** The link of this worker, or `undefined` on the main thread and in a worker no pool runs. */
export function workerLink(): WorkerLink | undefined {
  return link;
}

/** Connects this worker to its pool, from the pool's first message. */
export function connect(channel: ParentChannel, flag: SharedArrayBuffer, port: MessagePort): void {
  link = new WorkerLink(channel, new Int32Array(flag), port);
}

interface Waiter {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class WorkerLink {
  #channel: ParentChannel;
  #flag: Int32Array;
  #port: MessagePort;
  #receive: (port: MessagePort) => { message: unknown } | undefined;
  /** Promises waiting for another thread's async entry, by scope id and entry id. */
  #waiting: Map<string, Waiter> = new Map();

  constructor(channel: ParentChannel, flag: Int32Array, port: MessagePort) {
    this.#channel = channel;
    this.#flag = flag;
    this.#port = port;
    const threads = loadWorkerThreads();
    if (threads === undefined) {
      throw new TypeError(
        "Cannot share cached entries with the main thread: this runtime has no node:worker_threads receiveMessageOnPort",
      );
    }
    this.#receive = threads.receiveMessageOnPort;
  }

  /** A call of a shared function in scope `state`: this worker's copy, else the main thread's answer. */
  call(state: ScopeState, id: string, name: string, compute: () => unknown): unknown {
    const copies = copiesOf(state);
    const copy = copies.get(id);
    if (copy !== undefined) {
      if (copy.state === READY) return copy.value;
      if (copy.state === COMPUTING) throw cycleError(name);
    }
    const answer = this.#lookup(state.id, id);
    switch (answer.kind) {
      case "value": {
        const value = answer.async ? Promise.resolve(answer.value) : answer.value;
        copies.set(id, { value, state: READY });
        return value;
      }
      case "error": {
        const error = reviveError(answer.error, `shared function ${name}`);
        if (answer.async) return Promise.reject(error);
        throw error;
      }
      case "wait": {
        const promise = new Promise((resolve, reject) => {
          this.#waiting.set(scopedEntryId(state.id, id), { resolve, reject });
        });
        const entry: SharedCopy = { value: promise, state: READY };
        copies.set(id, entry);
        evictOnRejection(copies, id, entry);
        return promise;
      }
      case "compute":
        return this.#compute(state, copies, id, name, compute, answer.share);
    }
  }

  #compute(
    state: ScopeState,
    copies: Map<string, SharedCopy>,
    id: string,
    name: string,
    compute: () => unknown,
    share: boolean,
  ): unknown {
    const entry: SharedCopy = { value: undefined, state: COMPUTING };
    copies.set(id, entry);
    let value: unknown;
    try {
      value = compute();
    } catch (error) {
      entry.state = FAILED; // first, by a store that cannot throw: see callAndStore in core/per_request_cache.ts
      if (copies.get(id) === entry) copies.delete(id);
      if (share) this.#settle(state.id, id, { ok: false, error: serializeError(error) });
      throw error;
    }
    entry.value = value;
    entry.state = READY;
    if (value instanceof Promise) {
      evictOnRejection(copies, id, entry);
      if (!share) return value;
      this.#post({ type: "pending", scope: state.id, entry: id });
      value.then(
        (settled) => this.#share(state.id, id, name, settled),
        (error) => this.#settle(state.id, id, { ok: false, error: serializeError(error) }),
      );
      return value;
    }
    if (share) {
      const error = this.#share(state.id, id, name, value);
      if (error !== undefined) {
        if (copies.get(id) === entry) copies.delete(id);
        throw error;
      }
    }
    return value;
  }

  /** Reports a value; one that cannot be cloned becomes a `TypeError` for every thread. */
  #share(scope: string, id: string, name: string, value: unknown): TypeError | undefined {
    try {
      this.#post({ type: "settle", scope, entry: id, outcome: { ok: true, value } });
      return undefined;
    } catch (cause) {
      const error = sharedResultNotCloneableError(name, cause);
      this.#settle(scope, id, { ok: false, error: serializeError(error) });
      return error;
    }
  }

  #settle(scope: string, id: string, outcome: Outcome): void {
    this.#post({ type: "settle", scope, entry: id, outcome });
  }

  #post(message: FromWorker): void {
    this.#channel.post(message);
  }

  /** Asks the main thread about an entry and blocks until it answers (file comment). */
  #lookup(scope: string, id: string): LookupAnswer {
    let seen = Atomics.load(this.#flag, 0);
    this.#post({ type: "lookup", scope, entry: id });
    for (;;) {
      const received = this.#receive(this.#port);
      if (received !== undefined) return received.message as LookupAnswer;
      Atomics.wait(this.#flag, 0, seen, WAIT_SLICE_MS);
      seen = Atomics.load(this.#flag, 0);
    }
  }

  /** The main thread's message that an entry this worker waits for has settled. */
  settled(scope: string, id: string, outcome: Outcome): void {
    const key = scopedEntryId(scope, id);
    const waiter = this.#waiting.get(key);
    if (waiter === undefined) return;
    this.#waiting.delete(key);
    if (outcome.ok) waiter.resolve(outcome.value);
    else waiter.reject(reviveError(outcome.error, `shared function ${nameOfEntry(id)}`));
  }
}

/** As in one thread: a rejected promise is dropped so the next call retries. */
function evictOnRejection(copies: Map<string, SharedCopy>, id: string, entry: SharedCopy): void {
  (entry.value as Promise<unknown>).then(undefined, () => {
    if (copies.get(id) === entry) copies.delete(id);
  });
}
