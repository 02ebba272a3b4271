/**
 * A request or response body read as UTF-8 text up to a byte limit: the API's JSON bodies, the
 * forms without files, the e-Pay gateway's answers and the sandbox's requests. Past the limit it
 * stops reading, cancels the stream and answers null, so nothing unbounded is ever held in memory;
 * the caller says what that means for it (413, a refused answer).
 */
export async function readBodyLimited(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<string | null> {
  if (!body) return "";
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
