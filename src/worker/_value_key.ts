/**
 * The keys of a shared cached function, compared by value: they cross threads, where identity
 * means nothing (every message is a copy).
 *
 * A call whose key is one primitive (a number, a string, a boolean, `null`, `undefined`, a
 * bigint) is keyed by it: SameValueZero, what an entry table compares with, is by value for
 * primitives already (`NaN` equals `NaN`, `-0` equals `0`), so a hit encodes nothing. Any other
 * call (an object, several arguments or none) is encoded to a string, equal for two argument
 * lists exactly when they are equal as structured-cloneable data: arrays element by element,
 * plain objects by their own enumerable string keys in any order, `Map` and `Set` by their
 * contents in any order, `Date`, `RegExp`, boxed primitives, `ArrayBuffer`s and typed arrays by
 * what they hold. That string is never the table key itself, which could be a primitive string
 * argument: it is interned in the table's trie under the {@linkcode ENCODED} receiver, a path no
 * primitive key takes. What structured cloning cannot carry (functions, symbols, promises, weak
 * collections, host objects such as a `Request`) and what has no stable value (cycles, `Blob`s)
 * throws a `TypeError` naming the function and the argument.
 */
import { findKey, internKey } from "../core/_call_key.ts";
import type { EntryTable } from "../core/_entry_table.ts";
import type { WireKey } from "./_protocol.ts";

/** The receiver under which encoded keys are interned: no call of a shared function has one. */
const ENCODED: object = Object.freeze({ encoded: true });

/** Whether `value` keys a call by itself: a primitive that structured cloning carries. */
export function isPrimitiveKey(value: unknown): boolean {
  return value === null ||
    (typeof value !== "object" && typeof value !== "function" && typeof value !== "symbol");
}

/** The key of a call of the shared function `name` as it travels between threads. */
export function wireKey(
  name: string,
  keyOption: ((...args: unknown[]) => unknown) | undefined,
  args: unknown[],
): WireKey {
  if (keyOption !== undefined) {
    const key = keyOption.apply(undefined, args);
    return isPrimitiveKey(key) ? key as WireKey : { encoded: valueKey(name, [key], true) };
  }
  if (args.length === 1 && isPrimitiveKey(args[0])) return args[0] as WireKey;
  return { encoded: valueKey(name, args, false) };
}

/** The key in `table` of a call whose key travels as `key`: interned if `intern`, else found. */
export function localKey(table: EntryTable, key: WireKey, intern: boolean): unknown {
  if (typeof key !== "object" || key === null) return key;
  const parts = [key.encoded];
  return intern ? internKey(table, ENCODED, parts) : findKey(table, ENCODED, parts);
}

/** Keys the values of `args` by value, for the shared cached function `name`. */
function valueKey(name: string, args: ArrayLike<unknown>, fromKeyOption: boolean): string {
  let key = "";
  for (let i = 0; i < args.length; i++) {
    const where = fromKeyOption ? "the key its key option returned" : `argument ${i + 1}`;
    key += encode(args[i], name, where, []) + ";";
  }
  return key;
}

function encode(value: unknown, name: string, where: string, path: object[]): string {
  switch (typeof value) {
    case "undefined":
      return "u";
    case "boolean":
      return value ? "t" : "f";
    case "number":
      // SameValueZero: -0 and 0 are one key, NaN is one key.
      return Number.isNaN(value) ? "N" : `d${value === 0 ? 0 : value}`;
    case "bigint":
      return `b${value}`;
    case "string":
      return `s${JSON.stringify(value)}`;
    case "object":
      return value === null ? "n" : encodeObject(value, name, where, path);
    default:
      throw notComparable(name, where, typeof value === "function" ? "a function" : typeof value);
  }
}

function encodeObject(value: object, name: string, where: string, path: object[]): string {
  if (path.includes(value)) throw notComparable(name, where, "it contains itself");
  path.push(value);
  try {
    if (Array.isArray(value)) {
      let body = "";
      for (let i = 0; i < value.length; i++) body += encode(value[i], name, where, path) + ",";
      return `[${body}]`;
    }
    if (value instanceof Date) return `D${value.getTime()}`;
    if (value instanceof RegExp) return `R${JSON.stringify(String(value))}`;
    if (value instanceof Map) {
      const pairs = [...value].map(([k, v]) =>
        `${encode(k, name, where, path)}:${encode(v, name, where, path)}`
      );
      return `M{${pairs.sort().join(",")}}`;
    }
    if (value instanceof Set) {
      return `S{${[...value].map((v) => encode(v, name, where, path)).sort().join(",")}}`;
    }
    if (value instanceof ArrayBuffer) return `A${bytes(new Uint8Array(value))}`;
    if (ArrayBuffer.isView(value)) {
      const view = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      return `V${value.constructor.name}:${bytes(view)}`;
    }
    if (
      value instanceof Number || value instanceof String || value instanceof Boolean ||
      value instanceof BigInt
    ) {
      return `W${encode(value.valueOf(), name, where, path)}`;
    }
    if (value instanceof Error) {
      return `E${JSON.stringify(value.name)}${JSON.stringify(value.message)}`;
    }
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) checkClonable(value, name, where);
    const fields = Object.keys(value).sort().map((field) =>
      `${JSON.stringify(field)}:${
        encode((value as Record<string, unknown>)[field], name, where, path)
      }`
    );
    return `{${fields.join(",")}}`;
  } finally {
    path.pop();
  }
}

/**
 * A class instance clones as a plain object of its own fields, but a host object (a `Request`,
 * a `Promise`, a `WeakMap`) does not clone at all. Only the clone can tell them apart, and it
 * runs only for objects that are neither plain nor of a known kind.
 */
function checkClonable(value: object, name: string, where: string): void {
  if (value instanceof Promise || value instanceof WeakMap || value instanceof WeakSet) {
    throw notComparable(name, where, `a ${value.constructor.name}`);
  }
  if (typeof Blob === "function" && value instanceof Blob) {
    throw notComparable(name, where, "a Blob, whose bytes cannot be read synchronously");
  }
  try {
    structuredClone(value);
  } catch (cause) {
    throw notComparable(name, where, `a ${value.constructor?.name ?? "host object"}`, cause);
  }
}

function bytes(view: Uint8Array): string {
  let hex = "";
  for (const byte of view) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

function notComparable(name: string, where: string, what: string, cause?: unknown): TypeError {
  return new TypeError(
    `Cannot call ${name} with a shared cache: ${where} is not structured-cloneable data that can be compared by value (${what})`,
    { cause },
  );
}
