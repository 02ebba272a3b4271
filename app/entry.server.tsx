import { Transform, type TransformCallback } from "node:stream";
import { createReadableStreamFromReadable, type AppLoadContext, type EntryContext, type HandleErrorFunction } from "@remix-run/node";
import { isRouteErrorResponse, RemixServer } from "@remix-run/react";
import { levelForStatus } from "./logger.server";
import { isbot } from "isbot";
import { renderToPipeableStream } from "react-dom/server";

/**
 * React 18's stream writer flushes its whole 2 KiB buffer when a multi-byte character does not fit
 * at the end, leaving zero bytes where the character would have gone (facebook/react#24985); the
 * character itself follows in the next chunk. HTML never contains NUL, so dropping those bytes
 * restores the exact text (Chinese pages hit this on almost every long page).
 */
export class StripNulBytes extends Transform {
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
    if (!chunk.includes(0)) return done(null, chunk);
    done(null, Buffer.from(chunk.filter((byte) => byte !== 0)));
  }
}

/** Give up streaming a slow page after this long; Remix rejects pending promises a second later. */
export const streamTimeout = 5_000;

export default function handleRequest(
  request: Request,
  responseStatusCode: number,
  responseHeaders: Headers,
  remixContext: EntryContext,
  loadContext: AppLoadContext,
) {
  // Crawlers and no-JS clients get the whole document at once; browsers get it streamed.
  const waitForAll = isbot(request.headers.get("user-agent") ?? "");
  return new Promise<Response>((resolve, reject) => {
    let shellRendered = false;
    let statusCode = responseStatusCode;
    const { pipe, abort } = renderToPipeableStream(
      <RemixServer context={remixContext} url={request.url} abortDelay={streamTimeout} />,
      {
        [waitForAll ? "onAllReady" : "onShellReady"]() {
          shellRendered = true;
          const body = new StripNulBytes();
          responseHeaders.set("Content-Type", "text/html; charset=utf-8");
          resolve(new Response(createReadableStreamFromReadable(body), { headers: responseHeaders, status: statusCode }));
          pipe(body);
        },
        onShellError(error: unknown) {
          reject(error);
        },
        onError(error: unknown) {
          statusCode = 500;
          // Errors after the shell are React's to report; before it, handleError below logs them.
          if (shellRendered) loadContext.logger.error({ err: error }, "render error");
        },
      },
    );
    setTimeout(abort, streamTimeout + 1_000);
  });
}

/**
 * Every loader/action/render error that reaches Remix is logged here, with the request's id. Remix
 * also hands over its own 4xx answers (no route matches: 404; no action: 405) as error responses:
 * those are logged as what they are, at the level their status deserves, not as errors.
 */
export const handleError: HandleErrorFunction = (error, { request, context }) => {
  if (request.signal.aborted) return; // the client went away; nothing went wrong on our side
  const status = isRouteErrorResponse(error) ? error.status : error instanceof Response ? error.status : null;
  if (status !== null && status < 500) {
    context.logger[levelForStatus(status)]({ status, method: request.method, url: request.url }, `answered ${status}`);
    return;
  }
  context.logger.error({ err: error, method: request.method, url: request.url }, "unhandled error in request");
};
