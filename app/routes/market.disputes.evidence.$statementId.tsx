import type { LoaderFunctionArgs } from "@remix-run/node";
import { getDisputeEvidence } from "~/domain/market";
import { attachmentDisposition, requireMarketParty } from "~/web/market-order-access.server";
import { requireUuidParam, scoped } from "~/web/tenancy.server";

/**
 * `GET /market/disputes/evidence/:statementId` — a statement's evidence file, for the buyer, the
 * merchant and the operator of its dispute; anyone else (and a statement without a file) gets 404.
 * Always an attachment with the sniffed type and `nosniff`: an uploaded file is never rendered as a
 * page of ours.
 */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organizationId } = await requireMarketParty(request, context);
  const statementId = requireUuidParam(params.statementId);
  const file = await scoped(() => getDisputeEvidence(context.db, organizationId, statementId));
  return new Response(new Uint8Array(file.bytes), {
    status: 200,
    headers: {
      "Content-Type": file.contentType,
      "Content-Length": String(file.bytes.byteLength),
      "Content-Disposition": attachmentDisposition(file.filename),
      "X-Content-Type-Options": "nosniff",
      "Cache-Control": "private, no-store",
      "Content-Security-Policy": "default-src 'none'; sandbox",
    },
  });
}
