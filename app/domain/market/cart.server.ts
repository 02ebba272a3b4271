import { sql } from "kysely";
import { z } from "zod";
import { inTransaction, type Db } from "../../../db";
import { parseWholeNumber } from "../catalog";
import { DomainError, isUuid } from "../shared";
import type { Actor } from "../shared";
import { ESCROW_LIMITS } from "./escrow/model.server";
import { placeCheckout } from "./escrow/checkout.server";
import { type Fen } from "../ledger";
import { getListingForBuyer, orderableListing } from "./listings.server";
import { parseOrRefuse } from "./venues.server";

/**
 * A buyer's cart (进货单) in a market: one line per listing, per buyer per market (a checkout
 * pays one market's goods at once). The cart is the buyer's scratchpad, not a commitment: it holds
 * no stock and no money, and nothing else reads it, so its changes are not audited (the checkout
 * that turns it into orders is). What it stores is only listing + quantity; price, stock and
 * whether the listing can still be bought are read live, and a line that went wrong is flagged
 * rather than dropped, so the buyer sees why.
 *
 * Tenancy: every function takes the buyer organisation's id and touches only its lines; a listing
 * a buyer may not see (hidden, off sale, a suspended merchant, a closed market) is not_found.
 */

export const CART_LIMITS = {
  /** Lines per buyer per market. */
  linesMax: 200,
  /** Markets shown on the cart page. */
  marketsMax: 20,
  maxQuantity: 1_000_000,
  /** ¥10,000,000,000 on one line: beyond it the amount is a typo (and near JS's exact range). */
  maxLineAmountFen: 1_000_000_000_000,
} as const;

export type CartLineProblem = "not_orderable" | "short_of_stock" | "below_min_order" | "amount_too_large";

export interface CartLine {
  listingId: string;
  title: string;
  titleEn: string;
  category: string;
  spec: string;
  unit: string;
  unitPriceFen: Fen;
  quantity: number;
  /** unitPriceFen × quantity; 0 when that would be out of range (see problem). */
  amountFen: Fen;
  minOrderQty: number;
  stockQty: number;
  /** null: can be checked out as it is. */
  problem: CartLineProblem | null;
}

export interface CartMerchantGroup {
  merchantId: string;
  merchantName: string;
  merchantNameEn: string | null;
  stallCode: string | null;
  lines: CartLine[];
  /** Of the lines without a problem: what this merchant's order would come to. */
  subtotalFen: Fen;
}

export interface Cart {
  marketId: string;
  marketName: string;
  marketOpen: boolean;
  groups: CartMerchantGroup[];
  lineCount: number;
  /** Lines flagged with a problem: they stay in the cart and are not checked out. */
  problemCount: number;
  /** What a checkout now would pay: the lines without a problem. */
  totalFen: Fen;
}

const quantityField = z
  .union([z.string(), z.number()], { required_error: "required", invalid_type_error: "whole_number" })
  .transform((raw, ctx) => {
    const n = typeof raw === "number" ? (Number.isSafeInteger(raw) ? raw : null) : raw.trim() === "" ? undefined : parseWholeNumber(raw);
    if (n === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: "required" });
      return z.NEVER;
    }
    if (n === null) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: "whole_number" });
      return z.NEVER;
    }
    if (n < 1 || n > CART_LIMITS.maxQuantity) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: "out_of_range" });
      return z.NEVER;
    }
    return n;
  });

/** The add-to-cart / change-quantity form (and the model's input). */
export const cartLineSchema = z.object({
  listingId: z.string({ required_error: "required", invalid_type_error: "required" }).trim().min(1, "required"),
  quantity: quantityField,
});
export type CartLineInput = z.input<typeof cartLineSchema>;

const cartLineNotFound = () => new DomainError("not_found", "This listing is not in your cart");

/** The amount of a line, or null when out of range (a price raised after the line was added). */
function lineAmountFen(unitPriceFen: number, quantity: number): number | null {
  const amount = BigInt(unitPriceFen) * BigInt(quantity);
  return amount <= BigInt(CART_LIMITS.maxLineAmountFen) ? Number(amount) : null;
}

/** Quantity rules of one listing for a line of `quantity`: the problem as a field error, or null. */
function quantityProblem(listing: { minOrderQty: number; stockQty: number; priceFen: number; unit: string }, quantity: number): DomainError | null {
  if (quantity < listing.minOrderQty) {
    return new DomainError("validation", `The minimum order is ${listing.minOrderQty} ${listing.unit}`, { quantity: "below_min_order" });
  }
  if (quantity > listing.stockQty) {
    return new DomainError("validation", `Only ${listing.stockQty} ${listing.unit} in stock`, { quantity: "insufficient_stock" });
  }
  if (quantity > CART_LIMITS.maxQuantity || lineAmountFen(listing.priceFen, quantity) === null) {
    return new DomainError("validation", "The quantity is out of range", { quantity: "out_of_range" });
  }
  return null;
}

/**
 * Add a listing to the buyer's cart in its market; a listing already in the cart gets the
 * quantity added. The line's total quantity must reach the minimum order and not exceed the stock.
 */
export async function addToCart(db: Db, buyerId: string, raw: CartLineInput): Promise<CartLine> {
  const input = parseOrRefuse(cartLineSchema, raw, "Cart line");
  if (!isUuid(buyerId)) throw cartLineNotFound();
  return inTransaction(db, async (trx) => {
    const listing = await getListingForBuyer(trx, null, input.listingId);
    const existing = await trx
      .selectFrom("market_cart_items")
      .select("quantity")
      .where("buyer_id", "=", buyerId)
      .where("listing_id", "=", listing.id)
      .forUpdate()
      .executeTakeFirst();
    const quantity = (existing?.quantity ?? 0) + input.quantity;
    const problem = quantityProblem(listing, quantity);
    if (problem) throw problem;
    if (!existing) {
      const count = await trx
        .selectFrom("market_cart_items")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("buyer_id", "=", buyerId)
        .where("market_id", "=", listing.marketId)
        .executeTakeFirstOrThrow();
      if (Number(count.n) >= CART_LIMITS.linesMax) {
        throw new DomainError("validation", `A cart holds at most ${CART_LIMITS.linesMax} lines`, { listingId: "too_many" });
      }
    }
    await trx
      .insertInto("market_cart_items")
      .values({ buyer_id: buyerId, market_id: listing.marketId, listing_id: listing.id, quantity })
      // Two adds at the same instant for a new line both insert: the second adds on top.
      .onConflict((oc) => oc.columns(["buyer_id", "listing_id"]).doUpdateSet({ quantity: sql`least(market_cart_items.quantity + ${input.quantity}, ${CART_LIMITS.maxQuantity})`, updated_at: sql`now()` }))
      .execute();
    return toLine(listing, quantity);
  });
}

/** Change a line's quantity (the same rules as adding). A line not in the cart → not_found. */
export async function updateCartItem(db: Db, buyerId: string, raw: CartLineInput): Promise<CartLine> {
  const input = parseOrRefuse(cartLineSchema, raw, "Cart line");
  if (!isUuid(buyerId) || !isUuid(input.listingId)) throw cartLineNotFound();
  return inTransaction(db, async (trx) => {
    const existing = await trx
      .selectFrom("market_cart_items")
      .select("listing_id")
      .where("buyer_id", "=", buyerId)
      .where("listing_id", "=", input.listingId)
      .forUpdate()
      .executeTakeFirst();
    if (!existing) throw cartLineNotFound();
    const listing = await getListingForBuyer(trx, null, input.listingId).catch((error: unknown) => {
      // Hidden or off sale since it was added: the line stays (flagged); only removing it helps.
      if (error instanceof DomainError && error.code === "not_found") {
        throw new DomainError("invalid_state", "This listing cannot be bought now: remove it from the cart", { quantity: "not_orderable" });
      }
      throw error;
    });
    const problem = quantityProblem(listing, input.quantity);
    if (problem) throw problem;
    await trx
      .updateTable("market_cart_items")
      .set({ quantity: input.quantity, updated_at: sql`now()` })
      .where("buyer_id", "=", buyerId)
      .where("listing_id", "=", listing.id)
      .execute();
    return toLine(listing, input.quantity);
  });
}

/** Take a line out of the cart; removing one that is not there changes nothing (a second click). */
export async function removeCartItem(db: Db, buyerId: string, listingId: string): Promise<{ removed: boolean }> {
  if (!isUuid(buyerId) || !isUuid(listingId)) return { removed: false };
  const result = await db.deleteFrom("market_cart_items").where("buyer_id", "=", buyerId).where("listing_id", "=", listingId).executeTakeFirst();
  return { removed: Number(result.numDeletedRows) > 0 };
}

/** After a checkout: drop the lines it took (in the checkout's transaction). Returns how many went. */
export async function clearCartLines(db: Db, buyerId: string, listingIds: readonly string[]): Promise<number> {
  const ids = [...new Set(listingIds.filter(isUuid).map((id) => id.toLowerCase()))].slice(0, CART_LIMITS.linesMax);
  if (!isUuid(buyerId) || ids.length === 0) return 0;
  const result = await db.deleteFrom("market_cart_items").where("buyer_id", "=", buyerId).where("listing_id", "in", ids).executeTakeFirst();
  return Number(result.numDeletedRows);
}

function toLine(
  l: { id: string; title: string; titleEn: string; category: string; spec: string; unit: string; priceFen: number; minOrderQty: number; stockQty: number; orderable: boolean },
  quantity: number,
): CartLine {
  const amount = lineAmountFen(l.priceFen, quantity);
  let problem: CartLineProblem | null = null;
  if (!l.orderable) problem = "not_orderable";
  else if (amount === null) problem = "amount_too_large";
  else if (quantity > l.stockQty) problem = "short_of_stock";
  else if (quantity < l.minOrderQty) problem = "below_min_order";
  return {
    listingId: l.id,
    title: l.title,
    titleEn: l.titleEn,
    category: l.category,
    spec: l.spec,
    unit: l.unit,
    unitPriceFen: l.priceFen,
    quantity,
    amountFen: amount ?? 0,
    minOrderQty: l.minOrderQty,
    stockQty: l.stockQty,
    problem,
  };
}

/**
 * The buyer's cart in one market, grouped by merchant (by name), each line priced now and flagged
 * when it cannot be checked out as it is. A market that does not exist → not_found; one with no
 * lines is an empty cart.
 */
export async function getCart(db: Db, buyerId: string, marketId: string): Promise<Cart> {
  if (!isUuid(marketId) || !isUuid(buyerId)) throw new DomainError("not_found", "Market not found");
  const market = await db.selectFrom("markets").select(["id", "name", "status"]).where("id", "=", marketId).executeTakeFirst();
  if (!market) throw new DomainError("not_found", "Market not found");
  const rows = await db
    .selectFrom("market_cart_items as c")
    .innerJoin("market_listings as l", (join) => join.onRef("l.id", "=", "c.listing_id").onRef("l.market_id", "=", "c.market_id"))
    .innerJoin("markets as m", "m.id", "l.market_id")
    .innerJoin("organizations as o", "o.id", "l.merchant_id")
    .innerJoin("market_merchants as mm", (join) => join.onRef("mm.market_id", "=", "l.market_id").onRef("mm.merchant_id", "=", "l.merchant_id"))
    .leftJoin("market_stalls as s", "s.id", "mm.stall_id")
    .select([
      "c.listing_id",
      "c.quantity",
      "l.merchant_id",
      "o.name as merchant_name",
      "o.name_en as merchant_name_en",
      "s.code as stall_code",
      "l.title",
      "l.title_en",
      "l.category",
      "l.spec",
      "l.unit",
      "l.price_fen",
      "l.stock_qty",
      "l.min_order_qty",
      orderableListing.as("orderable"),
    ])
    .where("c.buyer_id", "=", buyerId)
    .where("c.market_id", "=", market.id)
    .orderBy("o.name")
    .orderBy("l.merchant_id")
    .orderBy("c.created_at")
    .orderBy("c.listing_id")
    .limit(CART_LIMITS.linesMax)
    .execute();
  const groups: CartMerchantGroup[] = [];
  for (const r of rows) {
    let group = groups[groups.length - 1];
    if (!group || group.merchantId !== r.merchant_id) {
      group = { merchantId: r.merchant_id, merchantName: r.merchant_name, merchantNameEn: r.merchant_name_en, stallCode: r.stall_code, lines: [], subtotalFen: 0 };
      groups.push(group);
    }
    const line = toLine(
      {
        id: r.listing_id,
        title: r.title,
        titleEn: r.title_en,
        category: r.category,
        spec: r.spec,
        unit: r.unit,
        priceFen: r.price_fen,
        minOrderQty: r.min_order_qty,
        stockQty: r.stock_qty,
        orderable: Boolean(r.orderable),
      },
      r.quantity,
    );
    group.lines.push(line);
    if (!line.problem) group.subtotalFen += line.amountFen;
  }
  const lines = groups.flatMap((g) => g.lines);
  return {
    marketId: market.id,
    marketName: market.name,
    marketOpen: market.status === "active",
    groups,
    lineCount: lines.length,
    problemCount: lines.filter((l) => l.problem).length,
    totalFen: groups.reduce((sum, g) => sum + g.subtotalFen, 0),
  };
}

/** Every market where the buyer has something in the cart, each cart as getCart gives it. */
export async function listCarts(db: Db, buyerId: string): Promise<Cart[]> {
  if (!isUuid(buyerId)) return [];
  const markets = await db
    .selectFrom("market_cart_items as c")
    .innerJoin("markets as m", "m.id", "c.market_id")
    .select(["c.market_id", "m.name"])
    .distinct()
    .where("c.buyer_id", "=", buyerId)
    .orderBy("m.name")
    .limit(CART_LIMITS.marketsMax)
    .execute();
  const carts: Cart[] = [];
  for (const m of markets) carts.push(await getCart(db, buyerId, m.market_id));
  return carts;
}

/** The lines a checkout of this cart would take: those without a problem, as placeCheckout wants them. */
export function checkoutLines(cart: Cart): { listingId: string; quantity: number }[] {
  return cart.groups.flatMap((g) => g.lines.filter((l) => !l.problem).map((l) => ({ listingId: l.listingId, quantity: l.quantity })));
}

/** How many lines the buyer has in its carts, all markets together (for a badge). */
export async function countCartLines(db: Db, buyerId: string): Promise<number> {
  if (!isUuid(buyerId)) return 0;
  const row = await db.selectFrom("market_cart_items").select((eb) => eb.fn.countAll<number>().as("n")).where("buyer_id", "=", buyerId).executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Check out the buyer's cart in one market: its orderable lines (flagged ones stay behind) become
 * a checkout through the escrow context's placeCheckout (which reserves the stock and splits one
 * order per merchant), and those lines leave the cart in the same transaction, so the cart and
 * the orders never disagree. The key makes it idempotent end to end: a second call with a key
 * already used returns that checkout (looked up by key first, since the first call emptied the
 * lines a replay would otherwise be built from). Nothing orderable → `nothing_to_checkout`.
 * Payment is the caller's next step, outside any transaction (it calls the gateway).
 */
export async function checkoutCart(
  db: Db,
  actor: Actor,
  buyerId: string,
  marketId: string,
  idempotencyKey: string,
  now: Date,
): Promise<{ checkoutId: string; replayed: boolean; lineCount: number }> {
  const key = idempotencyKey.trim();
  if (key.length === 0 || key.length > ESCROW_LIMITS.idempotencyKeyChars) {
    throw new DomainError("validation", `idempotencyKey must be 1–${ESCROW_LIMITS.idempotencyKeyChars} characters`, { idempotencyKey: key ? "too_long" : "required" });
  }
  return inTransaction(db, async (trx) => {
    const seen = await trx
      .selectFrom("market_checkouts")
      .select(["id", "market_id"])
      .where("buyer_id", "=", buyerId)
      .where("idempotency_key", "=", key)
      .executeTakeFirst();
    if (seen) {
      if (seen.market_id !== marketId) throw new DomainError("idempotency_conflict", "This key was used for another market's checkout", { idempotencyKey: "already_used" });
      return { checkoutId: seen.id, replayed: true, lineCount: 0 };
    }
    const lines = checkoutLines(await getCart(trx, buyerId, marketId));
    if (lines.length === 0) throw new DomainError("invalid_state", "Nothing in this cart can be ordered now", { cart: "nothing_to_checkout" });
    const placed = await placeCheckout(trx, actor, { buyerId, marketId, lines, idempotencyKey: key }, now);
    // A replay (a twin request that won the key meanwhile) placed nothing now: its lines went with it.
    if (!placed.replayed) await clearCartLines(trx, buyerId, lines.map((l) => l.listingId));
    return { checkoutId: placed.checkout.id, replayed: placed.replayed, lineCount: lines.length };
  });
}
