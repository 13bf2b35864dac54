/**
 * Errors cross threads as plain data and are rebuilt on the other side with the same name,
 * message and stack. Structured cloning alone is not enough: it keeps the class only for the
 * built-in error types and drops the `name` of a custom class, which is often what callers test.
 */
import { notCloneableError } from "../_errors.ts";

/** An error as it travels in a message. */
export interface SerializedError {
  name: string;
  message: string;
  stack: string | undefined;
  /** A string `code` (as Node's errors carry), kept because callers branch on it. */
  code: string | undefined;
}

const builtins: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** Turns anything that was thrown into data that any message can carry. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      stack: error.stack,
      code: typeof code === "string" ? code : undefined,
    };
  }
  return {
    name: "Error",
    message: `a non-error value was thrown: ${String(error)}`,
    stack: undefined,
    code: undefined,
  };
}

/**
 * Rebuilds an error: a built-in class when the name is one, otherwise an `Error` whose `name`
 * is the original's. `where` is appended to the stack as one more frame, so that a trace read
 * in the main thread says which task (or which shared function) it came from.
 */
export function reviveError(data: SerializedError, where: string): Error {
  const ErrorClass = Object.hasOwn(builtins, data.name) ? builtins[data.name] : Error;
  const error = new ErrorClass(data.message);
  if (error.name !== data.name) {
    Object.defineProperty(error, "name", {
      value: data.name,
      writable: true,
      configurable: true,
    });
  }
  if (data.code !== undefined) Object.assign(error, { code: data.code });
  error.stack = `${data.stack ?? `${data.name}: ${data.message}`}\n    at ${where}`;
  return error;
}

/**
 * A shared cached function's result could not be copied to another thread: said the same way
 * whichever side of the pool finds it (the worker reporting it, the main thread answering).
 */
export function sharedResultNotCloneableError(name: string, cause: unknown): TypeError {
  return notCloneableError(`share the result of ${name} across threads`, "it is", cause);
}

/**
 * Posts `message`, or, if it does not clone (a shared result that cannot be copied), the message
 * `instead` makes from that error, so the receiver still learns how the call ended. Returns the
 * error when it was posted instead.
 */
export function postShared<M>(
  post: (message: M) => void,
  message: M,
  name: string,
  instead: (error: SerializedError) => M,
): TypeError | undefined {
  try {
    post(message);
    return undefined;
  } catch (cause) {
    const error = sharedResultNotCloneableError(name, cause);
    post(instead(serializeError(error)));
    return error;
  }
}
