import { getSettlementAccount, putSettlementAccount, settlementAccountJson } from "~/api/contracts/settlement";
import { ApiError, apiRoute, implement } from "~/api/handler.server";
import { paymentsDepsForRequest } from "~/domain/payments";
import * as Settlement from "~/domain/settlement";

/** An integrator waits on the answer: a short gateway budget; a repeat POST retries the deposit. */
const EPAY_TIMEOUT_MS = 5_000;

/** `GET` and `POST /api/v1/settlement-account` — contracts/settlement.ts. */
export const { loader, action } = apiRoute(
  implement(getSettlementAccount, async ({ principal, db }) => {
    const who = { organizationId: principal.organization.id, kind: principal.organization.kind, roles: principal.roles };
    const account = await Settlement.getSettlementAccount(db, who, new Date());
    if (!account) throw new ApiError(404, "not_found", "No settlement account is registered yet: POST one to /api/v1/settlement-account");
    return settlementAccountJson(account);
  }),
  implement(
    putSettlementAccount,
    async ({ request, context, principal, body, db, actor, logger }) => {
      const who = { organizationId: principal.organization.id, kind: principal.organization.kind, roles: principal.roles };
      const { changed, account } = await Settlement.registerSettlementAccount(
        db,
        actor,
        who,
        { bankName: body.bank_name, branchName: body.branch_name, accountNumber: body.account_number, accountName: body.account_name },
        new Date(),
      );
      // Sent for an unchanged account too while its deposit is still pending: a repeat POST is the retry.
      const deposit = !changed && account.status !== "pending_deposit"
        ? "unchanged"
        : await Settlement.sendVerificationDeposit(db, paymentsDepsForRequest(request, context.config, logger, { timeoutMs: EPAY_TIMEOUT_MS, maxAttempts: 2 }).gateway, who.organizationId, new Date());
      const current = await Settlement.getSettlementAccount(db, who, new Date());
      return { account: settlementAccountJson(current ?? account), deposit };
    },
    // The deposit is an HTTP call to the gateway: never inside a transaction.
    { transaction: false },
  ),
);
