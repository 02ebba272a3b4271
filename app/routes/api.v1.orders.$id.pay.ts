import { orderJson, payOrder } from "~/api/contracts/orders";
import { apiRoute, implement } from "~/api/handler.server";
import * as Orders from "~/domain/orders";

/** `POST /api/v1/orders/{id}/pay` — contracts/orders.ts. e-Pay (a redirect to a pay page) stays on the web. */
export const { loader, action } = apiRoute(
  implement(
    payOrder,
    async ({ principal, params, body, db, actor }) => {
      if (body.method === "wallet") await Orders.payFromWallet(db, actor, params.id, new Date());
      else await Orders.payOnAccount(db, actor, params.id, new Date());
      return orderJson(await Orders.getOrder(db, principal.organization.id, params.id));
    },
    { fieldNames: { payment_method: "method" } },
  ),
);
