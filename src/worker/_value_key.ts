/**
 * The by-value key of a call to a shared cached function: a string that is equal for two
 * argument lists exactly when they are equal as structured-cloneable data.
 *
 * Inside one thread, `perRequestCache` compares arguments by identity and serializes nothing.
 * Across threads identity means nothing (every message is a copy), so shared entries are keyed
 * by value: primitives compare with SameValueZero (`NaN` equals `NaN`, `-0` equals `0`), arrays
 * element by element, plain objects by their own enumerable string keys in any order, `Map` and
 * `Set` by their contents in any order, `Date`, `RegExp`, boxed primitives, `ArrayBuffer`s and
 * typed arrays by what they hold. Every tag is followed by a delimiter-safe body, so two
 * different values never encode to one string.
 *
 * What structured cloning cannot carry (functions, symbols, promises, weak collections, host
 * objects such as a `Request`) and what has no stable value (cycles, `Blob`s) throws a
 * `TypeError` naming the function and the argument.
 */

/** Keys the values of `args` by value, for the shared cached function `name`. */
export function valueKey(name: string, args: ArrayLike<unknown>, fromKeyOption: boolean): string {
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
