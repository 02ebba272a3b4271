import { createPayout, listPayouts, payoutJson } from "~/api/contracts/payouts";
import { apiRoute, implement } from "~/api/handler.server";
import * as Settlement from "~/domain/settlement";

/** `GET` and `POST /api/v1/settlement/payouts` — contracts/payouts.ts. */
export const { loader, action } = apiRoute(
  implement(listPayouts, async ({ principal, query, db }) => {
    const who = { organizationId: principal.organization.id, kind: principal.organization.kind, roles: principal.roles };
    const page = await Settlement.listPayouts(db, who, { status: query.status ?? null, limit: query.limit ?? 50, after: query.after ?? null });
    return { data: page.items.map(payoutJson), next_cursor: page.nextCursor };
  }),
  implement(createPayout, async ({ request, principal, body, db, actor }) => {
    const who = { organizationId: principal.organization.id, kind: principal.organization.kind, roles: principal.roles };
    // The caller's Idempotency-Key (checked by the handler) names the payout in the books too.
    const key = `api:${request.headers.get("idempotency-key")}`;
    const { payout } = await Settlement.requestPayout(db, actor, who, { amountFen: body.amount_fen, idempotencyKey: key }, new Date());
    return payoutJson(payout);
  }),
);
