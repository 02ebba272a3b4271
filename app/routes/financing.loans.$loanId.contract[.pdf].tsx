import type { LoaderFunctionArgs } from "@remix-run/node";
import { resolveLocale } from "~/i18n/locale.server";
import * as Financing from "~/domain/financing";
import { requireOrgContext, requireUuidParam, scoped } from "~/web/tenancy.server";

/**
 * GET /financing/loans/<loanId>/contract.pdf — the loan's contract summary and repayment schedule,
 * for the same readers as the loan page: the bank, the borrower and the guarantor; anyone else
 * (another tenant, an organisation with no part in financing) gets the same 404 as a missing loan.
 * In the reader's language; the file name carries the loan number.
 */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const ctx = await requireOrgContext(request, context);
  const scope = await scoped(async () => Financing.requireScopeFor(ctx.organization.kind, ctx.organization.organizationId));
  const id = requireUuidParam(params.loanId);
  const now = new Date();
  const detail = await scoped(() => Financing.getLoan(context.db, scope, id, now));
  // The repayment order is the product's (the contract's), read only once the loan is in scope.
  const product = await Financing.getProduct(context.db, detail.loan.product_id);
  const locale = await resolveLocale(request, ctx.user.locale);
  const pdf = await Financing.renderLoanContractPdf(detail, {
    locale,
    generatedAt: now,
    allocationOrder: product.allocation_order as Financing.AllocationComponent[],
  });
  // Loan numbers are the platform's own (letters, digits, dashes); anything else is dropped from the file name.
  const fileName = `loan-${detail.loan.number.replace(/[^A-Za-z0-9_-]/g, "")}.pdf`;
  return new Response(new Uint8Array(pdf), {
    headers: {
      "Content-Type": "application/pdf",
      "Content-Disposition": `attachment; filename="${fileName}"`,
      "Content-Length": String(pdf.byteLength),
      "Cache-Control": "private, no-store",
    },
  });
}
