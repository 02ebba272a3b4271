import { redirect, type ActionFunctionArgs, type AppLoadContext } from "@remix-run/node";
import type { MessageKey } from "~/i18n";
import { isDomainError } from "~/domain/shared";
import { checkoutCart } from "~/domain/market";
import { requireBuyer } from "~/web/market-party-access.server";
import { requireUuidParam } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";

/**
 * POST /market/cart/checkout: the cart page's "place orders and pay" button for one market.
 *  1. checkoutCart: in one transaction, the cart's orderable lines become a checkout (escrow's
 *     placeCheckout: stock reserved, one order per merchant) and leave the cart;
 *  2. the buyer goes to the checkout's page to pay it (e-Pay or the wallet).
 * The form's idempotency key makes a double submit land on the same checkout.
 */

async function flashTo(context: AppLoadContext, to: string, key: MessageKey, params: Record<string, string | number> = {}) {
  return redirect(to, { headers: { "Set-Cookie": await flashCookie(context, { key, params }) } });
}

export async function loader() {
  // Only the form posts here; a GET (a reload of the address bar) goes back to the cart.
  return redirect("/market/cart");
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId: buyerId, actor } = await requireBuyer(request, context, { may: "market_checkout.create" });
  const marketId = requireUuidParam(String(form.get("marketId") ?? ""));
  const idempotencyKey = String(form.get("idempotencyKey") ?? "");
  const db = context.db;

  let checkoutId: string;
  try {
    ({ checkoutId } = await checkoutCart(db, actor, buyerId, marketId, idempotencyKey, new Date()));
  } catch (error) {
    if (!isDomainError(error)) throw error;
    if (error.code === "not_found") throw new Response("Not found", { status: 404, statusText: "Not Found" });
    if (error.fields.idempotencyKey) throw new Response(`Bad idempotencyKey: ${error.message}`, { status: 400, statusText: "Bad Request" });
    if (error.fields.cart) return flashTo(context, "/market/cart", "cart.flash.nothingToCheckout");
    // Stock taken or a listing hidden between the cart page and this click: nothing was written,
    // and the cart page now flags the lines that changed.
    if (Object.keys(error.fields).some((f) => f.startsWith("lines"))) return flashTo(context, "/market/cart", "cart.flash.stockChanged");
    return flashTo(context, "/market/cart", "cart.flash.checkoutRefused", { reason: error.message.slice(0, 200) });
  }

  // The checkout's page offers the ways to pay (e-Pay, or the wallet's balance) and the expiry time.
  return redirect(`/market/checkouts/${checkoutId}`);
}
