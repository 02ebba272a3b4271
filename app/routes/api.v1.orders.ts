import { createOrder, listOrders, orderJson, orderListItemJson } from "~/api/contracts/orders";
import { apiRoute, implement } from "~/api/handler.server";
import { skuLineFieldNames } from "~/api/sku-lines.server";
import * as Orders from "~/domain/orders";

/** `GET /api/v1/orders`, `POST /api/v1/orders` — contracts/orders.ts. */
export const { loader, action } = apiRoute(
  implement(listOrders, async ({ principal, query, db }) => {
    const page = await Orders.listOrders(db, principal.organization.id, {
      status: query.status,
      kind: query.kind,
      counterpartyId: query.counterparty_id,
      after: query.after,
      limit: query.limit,
    });
    return { data: page.items.map(orderListItemJson), next_cursor: page.nextCursor };
  }),
  implement(
    createOrder,
    async ({ principal, body, db, actor }) => {
      const order = await Orders.createOrder(db, actor, {
        dealerId: principal.organization.id,
        coreEnterpriseId: body.core_enterprise_id,
        kind: body.kind,
        lines: body.lines.map((l) => ({ skuId: l.sku_id, skuCode: l.sku_code, quantity: l.quantity })),
        seasonId: body.season_id ?? null,
        note: body.note ?? null,
        submit: body.submit,
        paymentMethod: body.payment_method ?? null,
      }, new Date());
      return orderJson(await Orders.getOrder(db, principal.organization.id, order.id));
    },
    { fieldNames: skuLineFieldNames({ coreEnterpriseId: "core_enterprise_id", dealerId: "dealer_id" }) },
  ),
);
