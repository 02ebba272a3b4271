import { settlementAccountJson, verifySettlementAccount } from "~/api/contracts/settlement";
import { apiRoute, implement } from "~/api/handler.server";
import * as Settlement from "~/domain/settlement";

/** `POST /api/v1/settlement-account/verify` — contracts/settlement.ts. */
export const { loader, action } = apiRoute(
  implement(
    verifySettlementAccount,
    async ({ principal, body, db, actor }) => {
      const who = { organizationId: principal.organization.id, kind: principal.organization.kind, roles: principal.roles };
      return settlementAccountJson(await Settlement.confirmVerificationDeposit(db, actor, who, body.amount_fen, new Date()));
    },
    // A wrong amount is committed before it is refused (the count of tries must survive the
    // refusal), so the domain runs its own transaction rather than the request's.
    { transaction: false },
  ),
);
