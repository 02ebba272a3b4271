import { repayLoan } from "~/api/contracts/financing";
import { apiRoute, implement } from "~/api/handler.server";
import * as Financing from "~/domain/financing";

/** `POST /api/v1/financing/loans/{id}/repayments` — contracts/financing.ts. */
export const { loader, action } = apiRoute(
  implement(repayLoan, async ({ request, principal, params, body, db, actor }) => {
    const scope = Financing.requireScopeFor(principal.organization.kind, principal.organization.id);
    await Financing.getLoan(db, scope, params.id, new Date());
    // The caller's Idempotency-Key (checked by the handler) names the repayment in the loan's books too.
    const key = `api:${principal.organization.id}:${request.headers.get("idempotency-key")}`;
    const result = await Financing.repayLoan(db, actor, params.id, { mode: body.mode, amountFen: body.amount_fen, source: "wallet", idempotencyKey: key }, new Date());
    return { repayment_id: result.repaymentId, amount_fen: result.amountFen, allocation: result.allocation, loan_status: result.loanStatus };
  }),
);
