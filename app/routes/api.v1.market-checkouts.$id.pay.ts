import { payMarketCheckout } from "~/api/contracts/market-trade";
import { ApiError, apiRoute, implement } from "~/api/handler.server";
import { checkoutJson } from "~/api/market-trade.server";
import { EpayGatewayError, paymentsDepsForRequest } from "~/domain/payments";
import * as Market from "~/domain/market";

/** An integrator waits on the answer: a shorter gateway budget than a background step's. */
const EPAY_TIMEOUT_MS = 5_000;

/** `POST /api/v1/market-checkouts/{id}/pay` — contracts/market-trade.ts. */
export const { loader, action } = apiRoute(
  implement(
    payMarketCheckout,
    async ({ request, context, principal, params, body, db, actor, logger }) => {
      const buyerId = principal.organization.id;
      let payUrl: string | null = null;
      if (body.method === "wallet") {
        await Market.payCheckoutFromWallet(db, actor, buyerId, params.id, new Date());
      } else {
        try {
          ({ payUrl } = await Market.startCheckoutPayment(db, actor, buyerId, params.id, paymentsDepsForRequest(request, context.config, logger, { timeoutMs: EPAY_TIMEOUT_MS, maxAttempts: 2 }), new Date()));
        } catch (error) {
          if (!(error instanceof EpayGatewayError)) throw error;
          logger.warn({ checkoutId: params.id, err: error }, "e-Pay payment could not be started");
          throw new ApiError(503, "unavailable", "e-Pay cannot be reached right now: retry shortly, or pay from the wallet", {}, { "Retry-After": "30" });
        }
      }
      return { checkout: checkoutJson(await Market.getCheckout(db, buyerId, params.id)), pay_url: payUrl };
    },
    // e-Pay is an HTTP call to the gateway: it must not run inside a transaction (its own attempt
    // record keeps a retry from starting a second payment). The wallet payment runs in the
    // transaction that stores the answer, so a retry after a crash or a key takeover gets the first
    // answer, never "the checkout is paid".
    { transaction: (body) => (body as { method?: string }).method === "wallet" },
  ),
);
