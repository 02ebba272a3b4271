import { orderJson, payOrder } from "~/api/contracts/orders";
import { apiRoute, implement } from "~/api/handler.server";
import * as orders from "~/domain/orders/orders.server";

/** `POST /api/v1/orders/{id}/pay` — contracts/orders.ts. e-Pay (a redirect to a pay page) stays on the web. */
export const { loader, action } = apiRoute(
  implement(
    payOrder,
    async ({ principal, params, body, db, actor }) => {
      if (body.method === "wallet") await orders.payFromWallet(db, actor, params.id);
      else await orders.payOnAccount(db, actor, params.id);
      return orderJson(await orders.getOrder(db, principal.organization.id, params.id));
    },
    { fieldNames: { payment_method: "method" } },
  ),
);
