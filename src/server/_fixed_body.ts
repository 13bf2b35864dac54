import process from "node:process";

/**
 * Whether a response's body is known to be fixed (a string, bytes, JSON, form data) or absent,
 * asked without reading `response.body`: that getter turns a fixed body into a stream, which
 * costs more than the rest of a small request and takes the body off the server's fast path.
 * A fixed body runs no user code while it is sent, so the scope it was made in may end at once.
 *
 * `false` means "maybe a stream", which is always safe: the body is then tracked to its end.
 * Each runtime that can answer is asked in its own way (see {@linkcode denoFixedBody} and
 * {@linkcode bunFixedBody}), and only after its answer was checked on probe responses, so a
 * runtime whose internals changed shape gets the safe answer. Node and workerd expose nothing
 * but the getter, so there every body counts as a stream.
 */
export function hasFixedBody(response: Response): boolean {
  return (isFixed ??= denoFixedBody() ?? bunFixedBody() ?? maybeStream)(response);
}

/** This runtime's way to tell a fixed body, chosen on first use. */
let isFixed: ((response: Response) => boolean) | undefined;

function maybeStream(): boolean {
  return false;
}

interface InnerResponse {
  readonly body?: { readonly streamOrStatic?: unknown } | null;
}

/**
 * Deno keeps a response's inner record under a symbol, whose `body` is `null` for a fixed body
 * not yet read as a stream (or no body at all), and otherwise holds the stream or the fixed
 * bytes in `streamOrStatic`.
 */
function denoFixedBody(): ((response: Response) => boolean) | undefined {
  if (!("Deno" in globalThis)) return undefined;
  const symbol = Object.getOwnPropertySymbols(new Response("")).find((s) =>
    s.description === "response"
  );
  if (symbol === undefined) return undefined;
  const bodyOf = (response: Response) =>
    (response as unknown as Record<symbol, InnerResponse | undefined>)[symbol]?.body;
  if (
    bodyOf(new Response("")) !== null ||
    !(bodyOf(new Response(new ReadableStream()))?.streamOrStatic instanceof ReadableStream)
  ) {
    return undefined;
  }
  return (response) => {
    const body = bodyOf(response);
    return body === null ||
      (body !== undefined && body.streamOrStatic !== undefined &&
        !(body.streamOrStatic instanceof ReadableStream));
  };
}

/**
 * Bun reports, through `bun:jsc`'s `estimateShallowMemoryUsageOf`, a response's own size plus
 * the bytes of a fixed body, of its `url` and of its `statusText`, fixed when it was made; a
 * body that is a stream (or absent, or a `Blob`) adds nothing. So a response with no `url` and
 * no `statusText` that reports more than an empty one holds a fixed body: a string or bytes.
 * Responses that report nothing more (empty, streamed, a `Blob`, from `fetch()`) are tracked.
 * The rule is checked on probe responses first, streams that hold bytes already included.
 */
function bunFixedBody(): ((response: Response) => boolean) | undefined {
  if (!("Bun" in globalThis)) return undefined;
  const jsc = process.getBuiltinModule?.("bun:jsc") as { estimateShallowMemoryUsageOf?: unknown };
  if (typeof jsc?.estimateShallowMemoryUsageOf !== "function") return undefined;
  const sizeOf = jsc.estimateShallowMemoryUsageOf as (value: object) => number;
  const empty = sizeOf(new Response(null));
  const filled = new ReadableStream({
    start(controller) {
      controller.enqueue(new Uint8Array(8));
    },
  });
  if (
    typeof empty !== "number" || sizeOf(new Response(new ReadableStream())) !== empty ||
    sizeOf(new Response(filled, { status: 201, headers: { "x-probe": "1" } })) !== empty ||
    sizeOf(new Response("1234")) !== empty + 4 ||
    sizeOf(new Response(new Uint8Array(4))) !== empty + 4
  ) {
    return undefined;
  }
  return (response) =>
    sizeOf(response) > empty && response.statusText === "" && response.url === "";
}
