/**
 * Turns a call into the key of its entry, without serializing anything.
 *
 * The rules (README, "Keys"): arguments compare position by position with SameValueZero (the
 * equality `Map` uses: `NaN` equals `NaN`, `-0` equals `0`), objects by identity, and the number
 * of arguments counts, so `f(1)` and `f(1, undefined)` are different calls. A receiver (`this`,
 * for a method or a decorated method) is part of the key, ahead of the arguments.
 *
 * A lone argument with no receiver is its own key: that is the call that matters for speed and
 * it needs no lookup beyond the entry's own. Every other shape is interned in a trie with one
 * `Map` per position, rooted by (arity, has receiver), so that two different argument lists can
 * never meet at one leaf.
 */
import { type CallKey, type EntryTable, type KeyNode, makeCallKey } from "./_entry_table.ts";

/** The key of a call with no arguments and no receiver. */
export const NO_ARGUMENTS: object = Object.freeze({ noArguments: true });

function rootOf(arity: number, receiver: unknown): number {
  return receiver === undefined ? arity * 2 : arity * 2 + 1;
}

/** Whether a call is its own key, needing no trie: one argument or none, and no receiver. */
function isOwnKey(receiver: unknown, args: ArrayLike<unknown>): boolean {
  return receiver === undefined && args.length <= 1;
}

function ownKey(args: ArrayLike<unknown>): unknown {
  return args.length === 1 ? args[0] : NO_ARGUMENTS;
}

/** What {@linkcode findKey} returns for a call that was never stored: no entry has it as key. */
export const NOT_STORED: object = Object.freeze({ notStored: true });

/** The key of a call that was stored before, or {@linkcode NOT_STORED}. */
export function findKey(
  table: EntryTable,
  receiver: unknown,
  args: ArrayLike<unknown>,
): unknown {
  if (isOwnKey(receiver, args)) return ownKey(args);
  let node: KeyNode | CallKey | undefined = table.roots?.get(rootOf(args.length, receiver));
  if (receiver !== undefined && node !== undefined) node = (node as KeyNode).get(receiver);
  for (let i = 0; node !== undefined && i < args.length; i++) {
    node = (node as KeyNode).get(args[i]);
  }
  return node ?? NOT_STORED;
}

/** The key of a call, made (and interned) if this is the first call of its kind. */
export function internKey(
  table: EntryTable,
  receiver: unknown,
  args: ArrayLike<unknown>,
): unknown {
  if (isOwnKey(receiver, args)) return ownKey(args);
  const path: unknown[] = receiver === undefined ? [] : [receiver];
  for (let i = 0; i < args.length; i++) path.push(args[i]);
  const root = rootOf(args.length, receiver);
  const roots = table.roots ??= new Map();
  let node = roots.get(root);
  if (node === undefined) roots.set(root, node = new Map());
  for (let i = 0; i < path.length - 1; i++) {
    let next = node.get(path[i]) as KeyNode | undefined;
    if (next === undefined) node.set(path[i], next = new Map());
    node = next;
  }
  const last = path[path.length - 1];
  let key = node.get(last) as CallKey | undefined;
  if (key === undefined) node.set(last, key = makeCallKey(root, path));
  return key;
}

/** A call's arguments as an array, from `listOf.apply(undefined, arguments)`. */
export function listOf(...args: unknown[]): unknown[] {
  return args;
}
