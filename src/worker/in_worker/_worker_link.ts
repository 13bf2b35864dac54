/**
 * A pool worker's link to the main thread's authority on shared entries
 * (`main_thread/_shared_authority.ts`): where a shared function's miss goes in a worker.
 *
 * A hit costs what it costs in one thread: the worker's copies are the entries of its own scope's
 * tables. A miss asks the main thread and blocks this worker until the answer comes: one round
 * trip to the main thread (`npm run bench` prints what it costs). Blocking is what lets a
 * synchronous function stay synchronous and still wait for the same computation running in
 * another worker; a worker that runs one task at a time loses nothing by it, and the main
 * thread is never blocked.
 */
import type { EntryTable } from "../../core/_entry_table.ts";
import type { Miss, Share } from "../../core/_miss_strategy.ts";
import type { ScopeState } from "../../core/_scope_state.ts";
import {
  postShared,
  reviveError,
  serializeError,
  sharedResultNotCloneableError,
} from "../_error_transfer.ts";
import { loadWorkerThreads } from "../_worker_threads_module.ts";
import { applyDrop, sharedIndexes } from "../_shared_functions.ts";
import type { SerializedError } from "../_error_transfer.ts";
import type { ParentChannel } from "./_parent_channel.ts";
import type {
  LookupAnswer,
  Outcome,
  SharedDrop,
  SharedToMain,
  SharedToWorker,
  WireKey,
} from "../_protocol.ts";

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

/** The outcome of a computation that failed, not kept as the entry. */
function notSettled(error: SerializedError): Outcome {
  return { ok: false, error, kept: false };
}

interface Waiter {
  resolve(value: unknown): void;
  reject(error: Error): void;
  readonly name: string;
}

export class WorkerLink {
  #channel: ParentChannel;
  #flag: Int32Array;
  #port: MessagePort;
  #receive: (port: MessagePort) => { message: unknown } | undefined;
  /** Promises waiting for another thread's entry, by the `wait` of their lookup. */
  #waiting: Map<number, Waiter> = new Map();
  #nextWait = 0;
  /** The scopes whose shared entries this worker holds, by id: where drops apply. */
  #scopes: Map<string, ScopeState> = new Map();
  /** The counts of each shared table when they were last reported. */
  #reported: WeakMap<EntryTable, number[]> = new WeakMap();

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

  /** A miss of the shared function `name` in this worker: the main thread says who computes. */
  miss(miss: Miss, name: string, key: WireKey): unknown {
    const scope = this.#hold(miss.scope);
    const wait = this.#nextWait++;
    const { tags } = miss;
    const answer = this.#lookup({ type: "shared", op: "lookup", scope, fn: name, key, tags, wait });
    switch (answer.kind) {
      case "value":
        return miss.store(answer.value, answer.join ? "join" : "hit");
      case "wait": {
        const promise = new Promise((resolve, reject) => {
          this.#waiting.set(wait, { resolve, reject, name });
        });
        return miss.store(promise, answer.join ? "join" : "hit");
      }
      case "error":
        throw reviveError(answer.error, `shared function ${name}`);
      case "compute":
        return miss.compute(
          answer.id === undefined ? undefined : this.#share(scope, answer.id, name, miss),
        );
    }
  }

  /** Reports computation `id` to the main thread as it ends. */
  #share(scope: string, id: number, name: string, miss: Miss): Share {
    const report = (outcome: Outcome): SharedToMain => ({
      type: "shared",
      op: "settle",
      scope,
      id,
      outcome,
    });
    const settle = (outcome: Outcome) =>
      postShared(this.#postBound, report(outcome), name, (error) => report(notSettled(error)));
    let notCloned: TypeError | undefined;
    return {
      returned: (value) => {
        if (!(value instanceof Promise)) {
          // A synchronous result that does not clone fails the call here too, as it would
          // elsewhere; the main thread has its error already (`threw` says nothing more).
          notCloned = settle({ ok: true, value });
          if (notCloned !== undefined) throw notCloned;
          return;
        }
        this.#post({ type: "shared", op: "pending", scope, id });
        value.then(
          (settled) => settle({ ok: true, value: settled }),
          (error) => settle({ ok: false, error: serializeError(error), kept: miss.keeps(error) }),
        );
      },
      threw: (error) => {
        if (error !== notCloned) settle(notSettled(serializeError(error)));
      },
    };
  }

  /** This worker dropped entries of `scope`: the main thread and the other workers drop them. */
  dropped(scope: ScopeState, drop: SharedDrop): void {
    this.#post({ type: "shared", scope: this.#hold(scope), ...drop });
  }

  /** This worker primed an entry: the main thread stores it, unless it has one (a settled value). */
  primed(
    scope: ScopeState,
    fn: string,
    key: WireKey,
    value: unknown,
    tags: readonly string[] | undefined,
  ): void {
    const id = this.#hold(scope);
    const post = (value: unknown) =>
      this.#post({ type: "shared", op: "prime", scope: id, fn, key, value, tags });
    if (!(value instanceof Promise)) {
      try {
        return post(value);
      } catch (cause) {
        throw sharedResultNotCloneableError(fn, cause);
      }
    }
    value.then((settled) => {
      try {
        post(settled);
      } catch {
        // Not cloneable: the other threads compute it instead.
      }
    }, () => {});
  }

  /** A message from the main thread about shared entries. */
  received(message: SharedToWorker): void {
    if (message.op === "settled") {
      const waiter = this.#waiting.get(message.wait);
      if (waiter === undefined) return;
      this.#waiting.delete(message.wait);
      const { outcome } = message;
      if (outcome.ok) waiter.resolve(outcome.value);
      else waiter.reject(reviveError(outcome.error, `shared function ${waiter.name}`));
      return;
    }
    const scope = this.#scopes.get(message.scope);
    if (scope !== undefined) applyDrop(scope, message);
  }

  /**
   * Reports the calls of shared functions made here since the last report, when a task ends:
   * a message only for a task whose request used one.
   */
  reportCounts(): void {
    for (const [id, scope] of this.#scopes) {
      const rows: (string | number)[] = [];
      for (const index of sharedIndexes()) {
        const table = scope.tables[index];
        if (table === undefined) continue;
        const last = this.#reported.get(table) ?? [0, 0, 0];
        const now = [table.hits, table.misses, table.joins];
        if (now[0] === last[0] && now[1] === last[1] && now[2] === last[2]) continue;
        rows.push(table.name, now[0] - last[0], now[1] - last[1], now[2] - last[2]);
        this.#reported.set(table, now);
      }
      if (rows.length > 0) this.#post({ type: "shared", op: "counts", scope: id, rows });
    }
  }

  /** Records that this worker holds shared entries of `scope` until it ends; returns its id. */
  #hold(scope: ScopeState): string {
    const id = scope.id;
    if (!this.#scopes.has(id)) {
      this.#scopes.set(id, scope);
      scope.onEnd(() => this.#scopes.delete(id));
    }
    return id;
  }

  #post(message: SharedToMain): void {
    this.#channel.post(message);
  }

  #postBound = (message: SharedToMain): void => this.#post(message);

  /** Asks the main thread about an entry and blocks until it answers (file comment). */
  #lookup(message: SharedToMain): LookupAnswer {
    let seen = Atomics.load(this.#flag, 0);
    this.#post(message);
    for (;;) {
      const received = this.#receive(this.#port);
      if (received !== undefined) return received.message as LookupAnswer;
      Atomics.wait(this.#flag, 0, seen, WAIT_SLICE_MS);
      seen = Atomics.load(this.#flag, 0);
    }
  }
}
