/**
 * What every layer says the same way when a call goes wrong. One grammar for all of them:
 * "Cannot <action>: <what is wrong>", showing the bad value through {@linkcode describe} (which
 * never dumps user data), with no trailing period. Written once here so that the copies cannot
 * drift apart.
 */

/** A short, safe rendering of a bad value for an error message. */
export function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "string") return `the string ${JSON.stringify(value.slice(0, 40))}`;
  if (typeof value === "function") return "a function";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  if (typeof value === "symbol") return value.toString();
  return `${typeof value} ${String(value)}`;
}

/**
 * Checks that `options` is an object whose own keys are all among `names`, and returns a copy
 * of those own options. Only own keys count: an option inherited from a polluted
 * `Object.prototype` (say `key`) must not change the library's behaviour, so callers read the
 * copy, which has no prototype. `hint` follows the list of options in the message.
 */
export function checkOptionNames(
  options: unknown,
  names: readonly string[],
  action: string,
  hint = "",
): Record<string, unknown> {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot ${action}: options must be an object, received ${describe(options)}`,
    );
  }
  const own: Record<string, unknown> = Object.create(null);
  for (const option of Object.keys(options)) {
    if (!names.includes(option)) {
      throw new TypeError(
        `Cannot ${action}: unknown option ${JSON.stringify(option)}; the options are ${
          names.join(", ")
        }${hint}`,
      );
    }
    own[option] = (options as Record<string, unknown>)[option];
  }
  return own;
}

/**
 * A value that had to cross a thread could not be copied. `what` names it with its verb ("its
 * context is", "argument 2 is"); the cloning error is kept as `cause`.
 */
export function notCloneableError(action: string, what: string, cause: unknown): TypeError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new TypeError(`Cannot ${action}: ${what} not structured-cloneable (${reason})`, {
    cause,
  });
}

/** A cached function called itself with the same arguments while computing them. */
export function cycleError(name: string): RangeError {
  return new RangeError(
    `Cannot call ${name}: it called itself with the same arguments before returning, which would never end; break the cycle, or call the function it wraps for the inner call`,
  );
}
