/**
 * One worker of a pool, as the main thread sees it: its thread, the channel that answers its
 * blocking lookups, the task it runs, and the scopes it has been told about. As a
 * {@linkcode Peer} it owns and waits for shared entries.
 */
import type { WorkerStats } from "../worker_pool_api.ts";
import { postShared } from "../_error_transfer.ts";
import type { ScopeState } from "../../core/_scope_state.ts";
import type { Peer, Remote } from "./_shared_authority.ts";
import type { FromWorker, LookupAnswer, ToWorker } from "../_protocol.ts";
import { encodeTask } from "../_task_message.ts";
import type { StartThread, WorkerThread } from "./_start_thread.ts";

/** A task on its way through the pool. */
export interface Job {
  readonly id: number;
  readonly task: string;
  readonly args: readonly unknown[];
  /** The caller's scope, if one was current. */
  readonly scope: PoolScope | undefined;
  readonly signal: AbortSignal | undefined;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** The listener on `signal`, removed when the job ends. */
  onAbort: (() => void) | undefined;
  /** The worker running it, once dispatched. */
  worker: PoolWorker | undefined;
  /** Set when its scope ended while it ran: replaces the worker if the task runs on. */
  grace?: ReturnType<typeof setTimeout>;
}

/** A main-thread scope that this pool has carried into workers. */
export interface PoolScope {
  readonly id: string;
  /** Its number in the pool: how messages name it (see `_task_message.ts`). */
  readonly ref: number;
  readonly context: object | undefined;
  /** The workers that hold a copy of it, to be told when it ends (a pool has a few). */
  readonly workers: PoolWorker[];
  /** How many of its jobs wait in the pool's queue (kept by `JobQueue`). */
  queued: number;
  readonly state: ScopeState;
}

/** How long a worker's own "exit" message waits for the runtime's exit or error event. */
const EXIT_GRACE_MS = 50;

/**
 * How long an ending waits for a message to carry it before it is sent on its own. Long enough
 * that a steady stream of tasks carries every ending and the timer rarely fires (each firing of
 * a timer costs a wake-up of the thread), short enough that an idle worker drops an ended
 * request's entries soon.
 */
const ENDS_DELAY_MS = 20;

export class PoolWorker implements Peer {
  waitingFor: Remote | undefined;
  readonly owned: Map<number, Remote> = new Map();
  /** Whether the worker's module called `serveTasks`. */
  ready = false;
  /** Whether the thread was stopped or died: nothing is sent to it any more. */
  dead = false;
  job: Job | undefined;
  readonly #thread: WorkerThread;
  readonly #flag: Int32Array;
  readonly #port: MessagePort;
  readonly #stats: Map<number, { resolve(stats: WorkerStats): void; reject(e: Error): void }> =
    new Map();
  #nextStats = 0;
  readonly #onCrash: (worker: PoolWorker, error: Error) => void;
  /**
   * Endings not told yet (see {@linkcode endScope}), as `Endings` pairs: one array, emptied
   * each time a message carries it.
   */
  readonly #ends: number[] = [];
  /** Tells {@linkcode #ends} if no message has carried them by then. */
  #endsTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    start: StartThread,
    url: URL,
    onMessage: (worker: PoolWorker, message: FromWorker) => void,
    onCrash: (worker: PoolWorker, error: Error) => void,
  ) {
    this.#onCrash = onCrash;
    this.#thread = start(url, {
      message: (data) => onMessage(this, data as FromWorker),
      crash: (error) => onCrash(this, error),
    });
    const flag = new SharedArrayBuffer(4);
    this.#flag = new Int32Array(flag);
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    this.post({ type: "init", flag, port: port2 }, [port2]);
  }

  /**
   * The worker said it is ending itself. Node and Bun also report the exit as an event, and
   * theirs says more (an uncaught error's message): it comes within a few milliseconds, so it
   * gets that long to win. Deno reports nothing, and then this message is the only word of it.
   */
  announcedExit(code: number): void {
    setTimeout(() => {
      if (!this.dead) this.#onCrash(this, new Error(`the worker exited with code ${code}`));
    }, EXIT_GRACE_MS);
  }

  /**
   * Sends a message, after the endings not told yet (in a message of their own); it throws if
   * the message does not clone.
   */
  post(message: ToWorker, transfer?: Transferable[]): void {
    if (this.dead) return;
    if (this.#ends.length > 0) this.#tellEnds();
    this.#thread.post(message, transfer);
  }

  /**
   * Sends `job` to run in `scope` (whose opening it carries if `opens`), with the endings not
   * told yet; it throws if the message does not clone (the endings are then still to tell).
   */
  postTask(job: Job, scope: PoolScope | undefined, opens: boolean): void {
    if (this.dead) return;
    const ends = this.#ends;
    const message = encodeTask(
      job.id,
      job.task,
      scope?.ref,
      opens ? scope?.id : undefined,
      opens ? scope?.context : undefined,
      ends,
      job.args,
    );
    this.#thread.post(message);
    ends.length = 0; // cloned by the post: the worker has them now
  }

  /**
   * Tells the worker that `scope` ended there too. With `now` (the worker runs a task of that
   * scope, whose `cacheSignal()` must abort at once) it is a message of its own; otherwise the
   * next message to the worker carries it, or, if none comes within `ENDS_DELAY_MS`, a message
   * of its own: a request with one task then costs no message for its end. Either way the
   * worker hears of it before anything posted after it. `why` numbers its reason's phrase.
   */
  endScope(scope: number, why: number, now: boolean): void {
    if (this.dead) return;
    this.#ends.push(scope, why);
    if (now) this.#tellEnds();
    else this.#endsTimer ??= setTimeout(this.#endsDue, ENDS_DELAY_MS);
  }

  #endsDue = (): void => {
    this.#endsTimer = undefined;
    if (this.#ends.length > 0 && !this.dead) this.#tellEnds();
  };

  #tellEnds(): void {
    this.#thread.post({ type: "end", ends: this.#ends });
    this.#ends.length = 0;
  }

  answer(answer: LookupAnswer, name: string): void {
    if (this.dead) return;
    const port = this.#port;
    postShared(port.postMessage.bind(port), answer, name, (error) => ({ kind: "error", error }));
    Atomics.add(this.#flag, 0, 1);
    Atomics.notify(this.#flag, 0);
  }

  /** Asks the worker what it holds; answered after the task it runs, if any. */
  stats(): Promise<WorkerStats> {
    const id = this.#nextStats++;
    return new Promise((resolve, reject) => {
      this.#stats.set(id, { resolve, reject });
      this.post({ type: "stats", id });
    });
  }

  receivedStats(id: number, stats: WorkerStats): void {
    this.#stats.get(id)?.resolve(stats);
    this.#stats.delete(id);
  }

  /**
   * Stops the thread. Any lookup it may be blocked on is answered first, so the thread is not
   * left inside `Atomics.wait` whatever the runtime's `terminate` does there; the thread never
   * reads that answer otherwise.
   */
  stop(reason: Error): Promise<void> {
    this.answer({ kind: "compute", id: undefined }, "");
    this.dead = true;
    clearTimeout(this.#endsTimer);
    this.#ends.length = 0;
    for (const waiter of this.#stats.values()) waiter.reject(reason);
    this.#stats.clear();
    this.#port.close();
    return this.#thread.terminate();
  }
}
