import { unstable_parseMultipartFormData, type UploadHandler } from "@remix-run/node";
import { RECRUITMENT_LIMITS, type UploadedDocument } from "../domain/recruitment";
import { readBodyLimited } from "../domain/shared";

/**
 * Reading the recruitment forms that may carry files (the application, the answer to an info
 * request), with limits applied while streaming — nothing unbounded is ever held in memory:
 *  - the whole request: at most REQUEST_BYTES_MAX (Content-Length is checked first; a body that lies
 *    about it is cut off by the running total) → 413;
 *  - each text field: at most TEXT_FIELD_BYTES_MAX kept (the form schemas refuse long values anyway);
 *  - files: at most RECRUITMENT_LIMITS.documentsPerUpload of them, each at most documentBytesMax;
 *    a file over the limit is drained and reported as a field problem, so the form comes back
 *    with the typed values kept instead of a bare error page.
 * What a file is gets decided by its bytes later (recruitment.server sniffDocumentType).
 */

export const UPLOAD_LIMITS = {
  /** Three 5 MiB files and the text, with room for multipart framing. */
  requestBytesMax: 3 * RECRUITMENT_LIMITS.documentBytesMax + 1024 * 1024,
  textFieldBytesMax: 16 * 1024,
  partsMax: 60,
  /** A form without files (urlencoded). */
  urlencodedBytesMax: 256 * 1024,
} as const;

export type UploadProblem = "file_too_large" | "too_many_files";

export interface ReadForm {
  form: FormData;
  documents: UploadedDocument[];
  /** A file refused while reading (reported next to the file field). */
  problem: UploadProblem | null;
}

function tooLarge(): Response {
  return new Response("The upload is too large", { status: 413, statusText: "Payload Too Large" });
}

/** The form, with the files of `fileField` read under the limits above. */
export async function readFormWithFiles(request: Request, fileField: string): Promise<ReadForm> {
  const declared = Number(request.headers.get("Content-Length") ?? "0");
  const contentType = request.headers.get("Content-Type") ?? "";
  if (!contentType.startsWith("multipart/form-data")) {
    // A plain form (no file chosen with JS off in some browsers, or a test client).
    if (declared > UPLOAD_LIMITS.urlencodedBytesMax) throw tooLarge();
    const text = await readCapped(request, UPLOAD_LIMITS.urlencodedBytesMax);
    const form = new FormData();
    for (const [name, value] of new URLSearchParams(text)) form.append(name, value);
    return { form, documents: [], problem: null };
  }
  if (declared > UPLOAD_LIMITS.requestBytesMax) throw tooLarge();

  const documents: UploadedDocument[] = [];
  let problem: UploadProblem | null = null;
  let totalBytes = 0;
  let parts = 0;

  const handler: UploadHandler = async (part) => {
    parts += 1;
    if (parts > UPLOAD_LIMITS.partsMax) throw tooLarge();
    const isFile = typeof part.filename === "string";
    const keepLimit = isFile ? RECRUITMENT_LIMITS.documentBytesMax : UPLOAD_LIMITS.textFieldBytesMax;
    const chunks: Uint8Array[] = [];
    let kept = 0;
    let seen = 0;
    for await (const chunk of part.data) {
      seen += chunk.byteLength;
      totalBytes += chunk.byteLength;
      if (totalBytes > UPLOAD_LIMITS.requestBytesMax) throw tooLarge();
      if (kept < keepLimit) {
        const room = keepLimit - kept;
        const piece = chunk.byteLength <= room ? chunk : chunk.subarray(0, room);
        chunks.push(piece);
        kept += piece.byteLength;
      }
    }
    if (!isFile) return new TextDecoder().decode(concat(chunks, kept));
    // No file chosen: browsers still send an empty part with an empty name.
    if (part.name !== fileField || (part.filename === "" && seen === 0)) return undefined;
    if (documents.length >= RECRUITMENT_LIMITS.documentsPerUpload) {
      problem ??= "too_many_files";
      return undefined;
    }
    if (seen > RECRUITMENT_LIMITS.documentBytesMax) {
      problem ??= "file_too_large";
      return undefined;
    }
    documents.push({ fileName: part.filename ?? "document", bytes: concat(chunks, kept) });
    return undefined;
  };

  let form: FormData;
  try {
    form = await unstable_parseMultipartFormData(request, handler);
  } catch (error) {
    if (error instanceof Response) throw error;
    // A body that is not the multipart it claims: the client's fault, never a 500.
    throw new Response("The form could not be read", { status: 400, statusText: "Bad Request" });
  }
  return { form, documents, problem };
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

async function readCapped(request: Request, maxBytes: number): Promise<string> {
  const text = await readBodyLimited(request.body, maxBytes);
  if (text === null) throw tooLarge();
  return text;
}
