/**
 * One cached function's entries inside one scope.
 *
 * Keys are what `_call_key.ts` derives from a call: the argument itself for the common
 * one-argument call, or an interned {@linkcode CallKey} for every other shape. Insertion order
 * doubles as the recency order for `maxEntries`, so a bounded table costs one move to the end
 * per hit and nothing else.
 *
 * Most cached functions are called with one key per request (the current user, the session),
 * so a table holds its first entry in two fields of its own and makes a `Map` only for a second
 * key: a `Map` that is written to is the costliest object a scope would otherwise make, most of
 * all on Bun. Keys compare as a `Map` compares them (SameValueZero).
 */
import { TagIndex } from "./_tag_index.ts";

/**
 * A stored result. `state` is {@linkcode READY} once `value` holds what the function returned
 * (for a native promise: once it has settled and stays cached); {@linkcode PENDING} while
 * `value` is a native promise that has not settled (a call that gets it is a join, not a hit);
 * {@linkcode COMPUTING} while the function runs synchronously for it (with no `value`), or while
 * another thread computes it (`value` is the record of that computation: see `callAndStore` in
 * `_cache_function.ts`); {@linkcode FAILED} if the function threw and the entry could not be
 * deleted (see `compute` in `_cache_function.ts`); {@linkcode DROPPED}
 * once it has left its table (invalidated, evicted, cleared), so that a late settle of its
 * promise cannot bring it back.
 */
export interface Entry {
  value: unknown;
  state: EntryState;
}

/** Values of {@linkcode Entry.state}. */
export type EntryState = 0 | 1 | 2 | 3 | 4;
export const READY = 0 as const;
export const COMPUTING = 1 as const;
export const FAILED = 2 as const;
export const PENDING = 3 as const;
export const DROPPED = 4 as const;

/** Interned key for calls that are not "one argument, no receiver": see `_call_key.ts`. */
export interface CallKey {
  readonly path: readonly unknown[];
  readonly root: number;
}

/** A trie node: one `Map` per argument position. Leaves are {@linkcode CallKey}s. */
export type KeyNode = Map<unknown, KeyNode | CallKey>;

export class EntryTable {
  readonly name: string;
  /** The key of the entry in the first slot; meaningless while `firstEntry` is `undefined`. */
  firstKey: unknown = undefined;
  /** The entry in the first slot, or `undefined` while it is empty (always, once `more` exists). */
  firstEntry: Entry | undefined = undefined;
  /** Every entry, in insertion order, once a second key came: the first slot is then empty. */
  more: Map<unknown, Entry> | undefined = undefined;
  /**
   * Trie roots by call shape (arity, and whether a receiver leads the path); made by the first
   * interned key, as most functions take one argument and never need one.
   */
  roots: Map<number, KeyNode> | undefined = undefined;
  /** The tags of the entries that have some; made by the first tagged entry. */
  tags: TagIndex | undefined;
  /** Calls answered by a settled entry. */
  hits = 0;
  /** Calls that found no entry: the function ran, or the key was sent to the batch function. */
  misses = 0;
  /** Calls that received an entry whose promise was still pending. */
  joins = 0;
  /** Calls of the batch function: a number for a `perRequestBatch` function's table only. */
  batches: number | undefined;
  /**
   * A `perRequestBatch` function's loads not yet dispatched in this scope (`_pending_batch.ts`).
   * Every drop (`delete`, `clear`, so `invalidateTags` too) marks it `dropped`: a dropped key
   * may still be in it, and a new load of that key must join its slot, not be sent twice.
   */
  pending: { dropped: boolean } | undefined = undefined;

  constructor(name: string, batched: boolean) {
    this.name = name;
    this.batches = batched ? 0 : undefined;
  }

  /** The entry stored under `key`, or `undefined`. */
  get(key: unknown): Entry | undefined {
    const more = this.more;
    if (more !== undefined) return more.get(key);
    return sameKey(this.firstKey, key) ? this.firstEntry : undefined;
  }

  /** Stores `entry` under `key`: in its place if the key has one, else after the others. */
  set(key: unknown, entry: Entry): void {
    const more = this.more;
    if (more !== undefined) {
      more.set(key, entry);
    } else if (this.firstEntry === undefined || sameKey(this.firstKey, key)) {
      this.firstKey = key;
      this.firstEntry = entry;
    } else {
      const made = this.more = new Map();
      made.set(this.firstKey, this.firstEntry);
      made.set(key, entry);
      this.firstKey = undefined;
      this.firstEntry = undefined;
    }
  }

  /** Moves the entry under `key` after all the others: it is now the most recently used. */
  touch(key: unknown, entry: Entry): void {
    const more = this.more;
    if (more === undefined) return; // one entry is first and last alike
    more.delete(key);
    more.set(key, entry);
  }

  /** How many entries the table holds. */
  get size(): number {
    if (this.more !== undefined) return this.more.size;
    return this.firstEntry === undefined ? 0 : 1;
  }

  /** Drops one entry, its tags and, for an interned key, its path in the trie. */
  delete(key: unknown): boolean {
    const entry = this.get(key);
    if (entry === undefined) return false;
    if (this.more !== undefined) this.more.delete(key);
    else this.firstKey = this.firstEntry = undefined;
    // Marked only once it has left: a delete cut short (a stack overflow) keeps a FAILED entry
    // FAILED, which the next call runs again (see compute in _cache_function.ts).
    entry.state = DROPPED;
    if (this.pending !== undefined) this.pending.dropped = true;
    this.tags?.forget(key);
    if (this.roots !== undefined && isCallKey(key)) forgetCallKey(this.roots, key);
    return true;
  }

  /** Records the tags of the entry just stored under `key`. */
  tag(key: unknown, tags: readonly string[]): void {
    if (tags.length > 0) (this.tags ??= new TagIndex()).add(key, tags);
  }

  /** Drops every entry that carries `tag`, and returns how many it dropped. */
  invalidateTag(tag: string): number {
    if (this.tags === undefined) return 0;
    let dropped = 0;
    for (const key of this.tags.keysWith(tag)) if (this.delete(key)) dropped++;
    return dropped;
  }

  /** Drops the least recently used entries until at most `max` remain. */
  evictBeyond(max: number): void {
    while (this.size > max) {
      this.delete(this.more === undefined ? this.firstKey : this.more.keys().next().value);
    }
  }

  /**
   * Follows an entry just stored that holds a native promise: it is {@linkcode PENDING} until
   * the promise settles, then {@linkcode READY}; a rejection is dropped instead unless
   * `keepsRejection(error)` says it stays. One reaction per promise serves both the join count
   * and the rejection rule.
   *
   * Only an entry still PENDING changes: one that left the table meanwhile (invalidated, by tag
   * too, evicted, cleared) is {@linkcode DROPPED}, and a late settle must neither store it back
   * nor drop the entry stored anew under its key. Only native promises are watched: calling
   * `then` on another thenable may start its work, so such an entry is READY (calls get hits).
   */
  watch(key: unknown, entry: Entry, keepsRejection: (error: unknown) => boolean): void {
    if (!(entry.value instanceof Promise)) return;
    entry.state = PENDING;
    entry.value.then(() => {
      if (entry.state === PENDING) entry.state = READY;
    }, (error: unknown) => {
      if (entry.state !== PENDING) return;
      if (keepsRejection(error)) entry.state = READY;
      else if (this.get(key) === entry) this.delete(key);
    });
  }

  clear(): number {
    const dropped = this.size;
    if (this.more !== undefined) { for (const entry of this.more.values()) entry.state = DROPPED; }
    else if (this.firstEntry !== undefined) this.firstEntry.state = DROPPED;
    if (this.pending !== undefined) this.pending.dropped = true;
    this.firstKey = this.firstEntry = this.more = undefined;
    this.roots = undefined;
    this.tags = undefined;
    return dropped;
  }
}

/** SameValueZero, as `Map` compares keys: `NaN` equals `NaN`, and `0` equals `-0`. */
function sameKey(a: unknown, b: unknown): boolean {
  return a === b || (a !== a && b !== b);
}

/**
 * A key interned by `_call_key.ts`. Told from a user's object (a one-argument call's key) by a
 * private brand, which no other object can carry: not by a registry of every key made, whose
 * table would grow with the keys made between two collections.
 */
class InternedCallKey implements CallKey {
  readonly path: readonly unknown[];
  readonly root: number;
  #interned: boolean;

  constructor(root: number, path: unknown[]) {
    this.path = path;
    this.root = root;
    this.#interned = true;
  }

  static holds(value: object): boolean {
    return #interned in value;
  }
}

export function makeCallKey(root: number, path: unknown[]): CallKey {
  return new InternedCallKey(root, path);
}

export function isCallKey(value: unknown): value is CallKey {
  return typeof value === "object" && value !== null && InternedCallKey.holds(value);
}

function forgetCallKey(roots: Map<number, KeyNode>, key: CallKey): void {
  const nodes: KeyNode[] = [];
  let node = roots.get(key.root);
  for (let i = 0; node !== undefined && i < key.path.length - 1; i++) {
    nodes.push(node);
    node = node.get(key.path[i]) as KeyNode | undefined;
  }
  if (node === undefined) return;
  node.delete(key.path[key.path.length - 1]);
  // Prune the branches that the dropped key was the last one to use, so that a bounded table
  // also bounds its trie.
  for (let i = nodes.length - 1; i >= 0 && node.size === 0; i--) {
    nodes[i].delete(key.path[i]);
    node = nodes[i];
  }
  if (node.size === 0) roots.delete(key.root);
}
