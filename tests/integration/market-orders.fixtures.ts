import { randomUUID } from "node:crypto";
import type { Db } from "../../db";
import { payCheckoutFromWallet, placeCheckout } from "../../app/domain/market/escrow/checkout.server";
import { shipMarketOrder } from "../../app/domain/market/escrow/fulfilment.server";
import { createOrg, createUser } from "../support/factories";
import type { Client, Page } from "../support/web";
import { actorFor, createMarketWorld, fund, makeBuyer, makeListing, type MarketWorld } from "./market-trade.fixtures";

/**
 * The world the escrow order pages and API are tested in, built on market-trade.fixtures.ts: a
 * market with two merchants and a listing each (女装 ¥100 at 2.5 % min ¥5, 男装 ¥88 at 2 %), a
 * funded buyer with an owner and a viewer, viewers of the merchant and the operator, and a second
 * market world whose parties are strangers to the first.
 */

export interface TradeWorld {
  w: MarketWorld;
  dress: { id: string; priceFen: number };
  shirt: { id: string; priceFen: number };
  buyer: { id: string; user: { email: string; password: string } };
  buyerViewer: { email: string; password: string };
  merchantViewer: { email: string; password: string };
  operatorViewer: { email: string; password: string };
  stranger: { world: MarketWorld; buyer: { id: string; user: { email: string; password: string } }; dealerUser: { email: string; password: string } };
}

export async function createTradeWorld(db: Db, options: { buyerFundedFen?: number } = {}): Promise<TradeWorld> {
  // A bank must exist for e-Pay payments (the gateway's clearing account belongs to it).
  if (!(await db.selectFrom("organizations").select("id").where("kind", "=", "bank").executeTakeFirst())) await createOrg(db, { kind: "bank", name: "测试银行" });
  const w = await createMarketWorld(db);
  const dress = await makeListing(db, w, 0, { priceFen: 10_000, stock: 500, title: "真丝连衣裙" });
  const shirt = await makeListing(db, w, 1, { priceFen: 8_800, stock: 500, category: "男装", title: "纯棉衬衫" });
  const buyer = await makeBuyer(db, options.buyerFundedFen ?? 100_000);
  const buyerViewer = await createUser(db, { memberships: [[buyer.id, "viewer"]] });
  const merchantViewer = await createUser(db, { memberships: [[w.merchants[0].id, "viewer"]] });
  const operatorViewer = await createUser(db, { memberships: [[w.operatorId, "viewer"]] });
  const strangerWorld = await createMarketWorld(db);
  const strangerBuyer = await makeBuyer(db, 0);
  const dealer = await createOrg(db, { kind: "dealer" });
  const dealerUser = await createUser(db, { memberships: [[dealer.id, "owner"]] });
  return { w, dress, shirt, buyer, buyerViewer, merchantViewer, operatorViewer, stranger: { world: strangerWorld, buyer: strangerBuyer, dealerUser } };
}

/** A checkout placed through the model (the cart's own page is another module's). */
export async function placeFor(db: Db, world: TradeWorld, lines: { listingId: string; quantity: number }[]) {
  return placeCheckout(db, actorFor(world.buyer.id), { buyerId: world.buyer.id, marketId: world.w.marketId, lines, idempotencyKey: `test-${randomUUID()}` }, new Date());
}

/** An order of `listing` paid from the wallet (topped up by its amount first) and (optionally) shipped: its id. */
export async function paidOrder(db: Db, world: TradeWorld, listingId: string, quantity: number, options: { ship?: boolean } = {}): Promise<string> {
  const placed = await placeFor(db, world, [{ listingId, quantity }]);
  // Its own money: the wallet the pages show is not drawn down by the orders tests make.
  await fund(db, world.buyer.id, placed.checkout.totalFen);
  await payCheckoutFromWallet(db, actorFor(world.buyer.id), world.buyer.id, placed.checkout.id, new Date());
  const order = placed.orders[0];
  if (options.ship) {
    await shipMarketOrder(db, actorFor(order.merchantId), order.merchantId, order.id, { carrier: "顺丰速运", trackingNo: `SF${Date.now()}` }, new Date());
  }
  return order.id;
}

/** The smallest PNG a browser would accept as a photo: the signature and an IHDR, enough for the sniffing. */
export function pngBytes(extra = 64): Uint8Array<ArrayBuffer> {
  const head = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0];
  const bytes = new Uint8Array(head.length + extra);
  bytes.set(head);
  return bytes;
}

/** Post a multipart form as a browser does when the form has a file input (fetch sets the boundary). */
export async function postMultipart(
  client: Client,
  path: string,
  fields: Record<string, string>,
  file?: { field: string; name: string; type: string; bytes: Uint8Array<ArrayBuffer> },
): Promise<Page> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  if (file) form.append(file.field, new Blob([file.bytes], { type: file.type }), file.name);
  return client.request(path, { method: "POST", body: form });
}
