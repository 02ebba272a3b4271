import { applicationJson, createDraw } from "~/api/contracts/financing";
import { apiRoute, implement } from "~/api/handler.server";
import * as Financing from "~/domain/financing";

/** `POST /api/v1/financing/draws` — contracts/financing.ts. */
export const { loader, action } = apiRoute(
  implement(createDraw, async ({ principal, body, db, actor }) => {
    const app = await Financing.drawOnCreditLine(db, actor, { amountFen: body.amount_fen ?? null, orderId: body.order_id ?? null }, new Date());
    return applicationJson(await Financing.getApplication(db, { kind: "borrower", organizationId: principal.organization.id }, app.id));
  }),
);
