import { DEALER_FIELD_NAMES, dealerLinkJson, getDealer, updateDealer } from "~/api/contracts/dealers";
import { apiRoute, implement } from "~/api/handler.server";
import { getDealerLink, transitionDealerLink, updateDealerLink } from "~/domain/dealers";

/** `GET /api/v1/dealers/{id}`, `POST /api/v1/dealers/{id}` (partial update) — contracts/dealers.ts. */
export const { loader, action } = apiRoute(
  implement(getDealer, async ({ principal, params, db }) => dealerLinkJson(await getDealerLink(db, principal.organization.id, params.id))),
  implement(
    updateDealer,
    async ({ principal, params, body, db, actor }) => {
      const coreId = principal.organization.id;
      // All in the request's transaction: terms, ledger limit and status change commit together.
      const current = await getDealerLink(db, coreId, params.id);
      const termsTouched = ["tier_id", "region", "payment_terms_days", "credit_limit_fen"].some((f) => f in body);
      if (termsTouched) {
        await updateDealerLink(db, actor, coreId, params.id, {
          tierId: body.tier_id === undefined ? current.tierId : body.tier_id,
          region: body.region ?? current.region,
          paymentTermsDays: body.payment_terms_days ?? current.paymentTermsDays,
          creditLimitFen: body.credit_limit_fen ?? current.credit.limitFen,
        });
      }
      if (body.status && body.status !== current.status) {
        await transitionDealerLink(db, actor, coreId, params.id, body.status === "suspended" ? "suspend" : "reactivate", body.reason ?? "");
      }
      return dealerLinkJson(await getDealerLink(db, coreId, params.id));
    },
    { fieldNames: DEALER_FIELD_NAMES },
  ),
);
