import { orderJson, payOrder } from "~/api/contracts/orders";
import { apiRoute, implement } from "~/api/handler.server";
import * as orderPayment from "~/domain/orders";
import * as orderQueries from "~/domain/orders";

/** `POST /api/v1/orders/{id}/pay` — contracts/orders.ts. e-Pay (a redirect to a pay page) stays on the web. */
export const { loader, action } = apiRoute(
  implement(
    payOrder,
    async ({ principal, params, body, db, actor }) => {
      if (body.method === "wallet") await orderPayment.payFromWallet(db, actor, params.id, new Date());
      else await orderPayment.payOnAccount(db, actor, params.id, new Date());
      return orderJson(await orderQueries.getOrder(db, principal.organization.id, params.id));
    },
    { fieldNames: { payment_method: "method" } },
  ),
);
