/**
 * Whether a response's body is known to be fixed (a string, bytes, JSON, form data) or absent,
 * asked without reading `response.body`: that getter turns a fixed body into a stream, which
 * costs more than the rest of a small request and takes the body off the server's fast path.
 * A fixed body runs no user code while it is sent, so the scope it was made in may end at once.
 *
 * Only Deno answers: its `Response` keeps its inner record under a symbol, whose `body` is
 * `null` for a fixed body not yet read as a stream (or no body at all), and otherwise holds the
 * stream or the fixed bytes in `streamOrStatic`. Bun, Node and workerd expose nothing but the
 * getter, so there every body counts as a stream (`false`), which is always safe: the body is
 * then tracked to its end. The record is checked on two probe responses first, so a Deno whose
 * internals changed shape gets that safe answer too.
 */
export function hasFixedBody(response: Response): boolean {
  if (innerRecord === undefined) innerRecord = findInnerRecord();
  if (innerRecord === null) return false;
  const body = (response as unknown as Record<symbol, InnerResponse | undefined>)[innerRecord]
    ?.body;
  return body === null ||
    (body !== undefined && body.streamOrStatic !== undefined &&
      !(body.streamOrStatic instanceof ReadableStream));
}

interface InnerResponse {
  readonly body?: { readonly streamOrStatic?: unknown } | null;
}

/** Deno's symbol for a response's inner record; `null` elsewhere. Looked up on first use. */
let innerRecord: symbol | null | undefined;

function findInnerRecord(): symbol | null {
  if (!("Deno" in globalThis)) return null;
  const fixed = new Response("");
  const streamed = new Response(new ReadableStream());
  const symbol = Object.getOwnPropertySymbols(fixed).find((s) => s.description === "response");
  if (symbol === undefined) return null;
  const bodyOf = (response: Response) =>
    (response as unknown as Record<symbol, InnerResponse | undefined>)[symbol]?.body;
  const streamedBody = bodyOf(streamed);
  return bodyOf(fixed) === null && streamedBody?.streamOrStatic instanceof ReadableStream
    ? symbol
    : null;
}
