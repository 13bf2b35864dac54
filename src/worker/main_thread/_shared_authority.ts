/**
 * The main thread as the authority on a request's shared entries: they are the entries of its
 * scope's tables, like any other, and this file answers the workers about them. A worker keeps
 * copies in its own scope's tables; these are the ones that decide who computes and who waits.
 *
 * How one entry computed by a worker moves, in the main thread's table:
 *
 *     (absent) --lookup--> COMPUTING, its value the Remote record --pending--> PENDING --> READY
 *                                   \______________settle (a value)______________________/
 *
 * - The first thread to ask becomes the *owner* and computes; a synchronous error is handed to
 *   everyone who waited and the entry is dropped, so the next call retries; a rejection stays
 *   if the owner's `cacheRejections` keeps it, as in one thread.
 * - A worker asking for a COMPUTING entry blocks (see `../_protocol.ts`) until the owner
 *   reports; for a promise (PENDING or READY) it is answered at once with "wait", and the
 *   outcome follows as a message.
 * - The main thread never blocks. A synchronous call there that finds a worker computing the
 *   same entry computes it too and keeps that result to itself (see `callAndStore` in
 *   `core/_cache_function.ts`): the price of a main thread that must stay free to answer.
 * - Blocking can deadlock where waiting on a promise would not: worker A, owner of `f(1)`,
 *   blocks on `g(1)` owned by B, and B then asks for `f(1)`. Following "owner of what I wait
 *   for" from the requested entry's owner finds the requester again; that requester is told to
 *   compute unshared instead of waiting. For a true cycle (`f(1)` needs `g(1)` needs `f(1)`)
 *   it then meets its own entry and throws the same `RangeError` as in one thread.
 *
 * A computation belongs to its owner for reports (by `id`), so a computation whose entry was
 * dropped meanwhile still answers those who waited for it, and a worker that dies releases
 * exactly what it owned. Drops (`invalidate`, `clear`, `invalidateTags`) made on any thread
 * reach the main thread's table and every other worker that holds copies for the request.
 */
import {
  COMPUTING,
  type Entry,
  type EntryTable,
  FAILED,
  PENDING,
  READY,
} from "../../core/_entry_table.ts";
import type { ScopeState } from "../../core/_scope_state.ts";
import { postShared, reviveError, serializeError } from "../_error_transfer.ts";
import { localKey } from "../_value_key.ts";
import { applyDrop, indexOf, storeShared, touchShared } from "../_shared_functions.ts";
import type {
  LookupAnswer,
  Outcome,
  SharedDrop,
  SharedToMain,
  SharedToWorker,
  WireKey,
} from "../_protocol.ts";

/** A worker that shares entries, as the main thread sees it. */
export interface Peer {
  /** The computation this worker is blocked on. */
  waitingFor: Remote | undefined;
  /** What this worker computes now, by id. */
  readonly owned: Map<number, Remote>;
  /** Answers the lookup this worker is blocked on. */
  answer(answer: LookupAnswer, name: string): void;
  /** Sends a message on the worker's channel; throws if it does not clone. */
  post(message: SharedToWorker): void;
}

/** A worker blocked on a computation, and the `wait` its lookup named for a later `settled`. */
interface Blocked {
  readonly peer: Peer;
  readonly wait: number;
}

let computations = 0;

/** A computation a worker owns: the value of its entry while the entry is COMPUTING. */
export class Remote {
  readonly id: number = computations++;
  owner: Peer | undefined;
  readonly name: string;
  readonly table: EntryTable;
  readonly key: unknown;
  readonly entry: Entry;
  /** Workers blocked until the owner reports, each with the `wait` of its lookup. */
  readonly blocked: Blocked[] = [];
  /** Settles the entry's promise, once the owner said it returned one. */
  settle: { resolve(value: unknown): void; reject(error: unknown): void } | undefined;

  constructor(owner: Peer, name: string, table: EntryTable, key: unknown) {
    this.owner = owner;
    this.name = name;
    this.table = table;
    this.key = key;
    this.entry = { value: this, state: COMPUTING };
    owner.owned.set(this.id, this);
  }
}

/** The workers that hold copies of a scope's shared entries: told of its drops. */
const holders = new WeakMap<ScopeState, Set<Peer>>();

function hold(scope: ScopeState, peer: Peer): void {
  let peers = holders.get(scope);
  if (peers === undefined) holders.set(scope, peers = new Set());
  peers.add(peer);
}

/** A worker's message about the shared entries of `scope` (`undefined`: it has ended). */
export function receiveShared(
  peer: Peer,
  scope: ScopeState | undefined,
  message: SharedToMain,
): void {
  switch (message.op) {
    case "pending":
      return reportPending(peer, message.id);
    case "settle":
      return reportSettled(peer, message.id, message.outcome);
    case "lookup":
      if (scope === undefined) return peer.answer(UNSHARED, message.fn);
      hold(scope, peer);
      return lookup(peer, scope, message.fn, message.key, message.tags, message.wait);
  }
  if (scope === undefined) return;
  hold(scope, peer);
  switch (message.op) {
    case "drop":
    case "tags":
      dropShared(scope, message, peer);
      return;
    case "prime": {
      const table = scope.table(indexOf(message.fn), message.fn);
      const key = localKey(table, message.key, true);
      const existing = table.get(key);
      if (existing !== undefined && existing.state !== FAILED) return;
      return storeShared(table, key, { value: message.value, state: READY }, message.tags);
    }
    case "counts":
      return addCounts(scope, message.rows);
  }
}

const UNSHARED: LookupAnswer = Object.freeze({ kind: "compute", id: undefined });

function lookup(
  peer: Peer,
  scope: ScopeState,
  name: string,
  wire: WireKey,
  tags: readonly string[] | undefined,
  wait: number,
): void {
  const table = scope.table(indexOf(name), name);
  const key = localKey(table, wire, true);
  const entry = table.get(key);
  if (entry === undefined || entry.state === FAILED) {
    if (entry !== undefined) table.delete(key);
    const remote = new Remote(peer, name, table, key);
    storeShared(table, key, remote.entry, tags);
    return peer.answer({ kind: "compute", id: remote.id }, name);
  }
  if (entry.state === COMPUTING) {
    const remote = entry.value as Remote | undefined;
    if (remote === undefined) return peer.answer(UNSHARED, name); // computed here: not now
    // Block, unless the chain of owners leads back here (see the file comment). The hop limit
    // only guards against a bug; a real chain is at most as long as the pool is big.
    for (let owner = remote.owner, hops = 0; owner !== undefined; owner = owner.waitingFor?.owner) {
      if (owner === peer || ++hops > 1_000) return peer.answer(UNSHARED, name);
    }
    peer.waitingFor = remote;
    remote.blocked.push({ peer, wait });
    return;
  }
  if (entry.value instanceof Promise) {
    peer.answer({ kind: "wait", join: entry.state === PENDING }, name);
    return tellWhenSettled(peer, entry.value, wait, name);
  }
  touchShared(table, key, entry);
  peer.answer({ kind: "value", value: entry.value, join: false }, name);
}

/** Tells `peer` how `promise` settled, as the `settled` message its `wait` names. */
function tellWhenSettled(peer: Peer, promise: Promise<unknown>, wait: number, name: string): void {
  const settled = (outcome: Outcome): SharedToWorker => ({
    type: "shared",
    op: "settled",
    wait,
    outcome,
  });
  const tell = (outcome: Outcome) =>
    postShared(
      peer.post.bind(peer),
      settled(outcome),
      name,
      (error) => settled({ ok: false, error, kept: false }),
    );
  promise.then(
    (value) => tell({ ok: true, value }),
    (error) => tell({ ok: false, error: serializeError(error), kept: false }),
  );
}

/** The owner's computation returned a promise: the entry is PENDING, and its waiters wait. */
function reportPending(peer: Peer, id: number): void {
  const remote = peer.owned.get(id);
  if (remote === undefined) return;
  const { entry, table, key } = remote;
  const promise = new Promise((resolve, reject) => remote.settle = { resolve, reject });
  promise.catch(() => {}); // rejected for whoever waits; unhandled by none
  entry.value = promise;
  if (table.get(key) === entry) entry.state = PENDING;
  answerBlocked(remote, WAIT, promise);
}

const WAIT: LookupAnswer = Object.freeze({ kind: "wait", join: true });

/**
 * Unblocks every worker blocked on `remote` with `answer`. A worker told to wait is owed a
 * `settled` message under its lookup's `wait` when `promise` settles: it has no other way to
 * learn the outcome.
 */
function answerBlocked(remote: Remote, answer: LookupAnswer, promise?: Promise<unknown>): void {
  for (const { peer, wait } of remote.blocked.splice(0)) {
    peer.waitingFor = undefined;
    peer.answer(answer, remote.name);
    if (promise !== undefined) tellWhenSettled(peer, promise, wait, remote.name);
  }
}

/** The owner's report of how its computation ended. */
function reportSettled(peer: Peer, id: number, outcome: Outcome): void {
  const remote = peer.owned.get(id);
  if (remote === undefined) return;
  peer.owned.delete(id);
  remote.owner = undefined;
  const { entry, table, key, name } = remote;
  const stored = table.get(key) === entry;
  if (remote.settle !== undefined) {
    if (outcome.ok) remote.settle.resolve(outcome.value);
    else remote.settle.reject(reviveError(outcome.error, `shared function ${name}`));
    if (!stored) return;
    if (outcome.ok || outcome.kept) entry.state = READY;
    else table.delete(key);
    return;
  }
  if (outcome.ok && stored) {
    entry.value = outcome.value;
    entry.state = READY;
  } else if (stored) table.delete(key);
  const answer: LookupAnswer = outcome.ok
    ? { kind: "value", value: outcome.value, join: true }
    : { kind: "error", error: outcome.error };
  answerBlocked(remote, answer);
}

/**
 * Entries of `scope` dropped by a thread (a worker, `from`, or this one): dropped here too, and
 * told to every other worker that holds copies.
 */
export function dropShared(scope: ScopeState, drop: SharedDrop, from?: Peer): void {
  if (from !== undefined) applyDrop(scope, drop);
  const peers = holders.get(scope);
  if (peers === undefined) return;
  const message: SharedToWorker = { type: "shared", scope: scope.id, ...drop };
  for (const peer of peers) if (peer !== from) peer.post(message);
}

/** A worker's calls of shared functions, counted in the request's scope here. */
function addCounts(scope: ScopeState, rows: readonly (string | number)[]): void {
  for (let i = 0; i + 3 < rows.length; i += 4) {
    const name = rows[i] as string;
    const table = scope.table(indexOf(name), name);
    const [hits, misses, joins] = [rows[i + 1], rows[i + 2], rows[i + 3]] as number[];
    table.hits += hits;
    table.misses += misses;
    table.joins += joins;
    scope.misses += misses;
    scope.joins += joins;
  }
}

/**
 * A worker is gone (crashed, aborted or terminated). What it was blocked on forgets it; what it
 * owned is dropped; each worker blocked on such an entry computes it itself, unshared, and
 * whoever waits for a promise it owned gets `error`.
 */
export function releasePeer(peer: Peer, error: Error): void {
  const waited = peer.waitingFor;
  if (waited !== undefined) {
    waited.blocked.splice(waited.blocked.findIndex((blocked) => blocked.peer === peer), 1);
    peer.waitingFor = undefined;
  }
  const owned = [...peer.owned.values()];
  peer.owned.clear();
  for (const remote of owned) {
    remote.owner = undefined;
    if (remote.table.get(remote.key) === remote.entry) remote.table.delete(remote.key);
    answerBlocked(remote, UNSHARED);
    remote.settle?.reject(error);
  }
}
