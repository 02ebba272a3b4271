import type { LoaderFunctionArgs } from "@remix-run/node";
import { requireRecruiter } from "~/web/recruitment-forms.server";
import { getDocument } from "~/domain/recruitment";
import { requireUuidParam, scoped } from "~/web/tenancy.server";

/**
 * `GET /campaigns/:campaignId/files/:documentId` — an applicant's document, for the reviewing core
 * enterprise only (another tenant's id: 404). Always a download, never rendered in our origin: a PDF
 * or image from the public is not trusted content.
 */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organizationId } = await requireRecruiter(request, context);
  const campaignId = requireUuidParam(params.campaignId);
  const documentId = requireUuidParam(params.documentId);
  const doc = await scoped(() => getDocument(context.db, organizationId, documentId, { campaignId }));
  const asciiName = doc.fileName.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  return new Response(new Uint8Array(doc.content), {
    headers: {
      "Content-Type": doc.contentType,
      "Content-Length": String(doc.content.byteLength),
      "Content-Disposition": `attachment; filename="${asciiName}"; filename*=UTF-8''${encodeURIComponent(doc.fileName)}`,
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": "sandbox",
      "Cache-Control": "private, no-store",
    },
  });
}
