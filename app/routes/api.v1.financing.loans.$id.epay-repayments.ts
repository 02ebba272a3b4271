import { startLoanEpayRepayment } from "~/api/contracts/financing";
import { ApiError, apiRoute, implement } from "~/api/handler.server";
import * as Financing from "~/domain/financing";
import { EpayGatewayError, paymentsDepsForRequest } from "~/domain/payments";

/** An integrator waits on the answer: a shorter gateway budget than a background step's. */
const EPAY_TIMEOUT_MS = 5_000;

/** `POST /api/v1/financing/loans/{id}/epay-repayments` — contracts/financing.ts. */
export const { loader, action } = apiRoute(
  implement(
    startLoanEpayRepayment,
    async ({ request, context, principal, params, body, db, actor, logger }) => {
      // Reading the loan first: another tenant's loan is a 404 whoever asks.
      const scope = Financing.requireScopeFor(principal.organization.kind, principal.organization.id);
      await Financing.getLoan(db, scope, params.id, new Date());
      try {
        const started = await Financing.startEpayRepayment(
          db,
          actor,
          params.id,
          { mode: body.mode },
          paymentsDepsForRequest(request, context.config, logger, { timeoutMs: EPAY_TIMEOUT_MS, maxAttempts: 2 }),
          new Date(),
        );
        return { payment_id: started.paymentId, pay_url: started.payUrl, mode: started.mode, amount_fen: started.amountFen };
      } catch (error) {
        if (!(error instanceof EpayGatewayError)) throw error;
        logger.warn({ loanId: params.id, err: error }, "e-Pay repayment could not be started");
        throw new ApiError(503, "unavailable", "e-Pay cannot be reached right now: retry shortly, or repay from the wallet", {}, { "Retry-After": "30" });
      }
    },
    // e-Pay is an HTTP call to the gateway: it must not run inside a transaction (the payments
    // side's attempt record keeps a retry from starting a second payment).
    { transaction: false },
  ),
);
