import { sql } from "kysely";
import { inTransaction, type Db } from "../../../../db";
import { recordAudits, type Actor, DomainError, isUuid, shanghaiDate } from "../../shared";
import { ensureAccount, lockAccountsByCodes, transfer, type AccountView, type Fen } from "../../ledger";
import { commissionFen, feeInForce } from "../fees.server";
import type { MarketOrderStatus } from "../../../../db/schema";
import { requestNotification } from "../../notifications";
import { enqueue, type Trx } from "../../outbox";
import type { PurposeResult } from "../../payments";
import { refuseWhilePaymentInFlight, startPaymentAttempt, type Payment, type PaymentsDeps } from "../../payments";
import { checkoutInputSchema, ESCROW_LIMITS, EXPIRE_CHECKOUTS_JOB, MARKET_ORDER_QUEUE, type Checkout, type CheckoutInput } from "./model.server";
import { checkoutView, ORDER_COLUMNS, organizationName, parse, restock, transitionOrRefuse, walletSpec, writeTimeline, type TimelineEntry } from "./internal.server";

// ---------------------------------------------------------------------------------------------
// Placement

export interface PlaceCheckoutResult {
  checkout: Checkout;
  orders: { id: string; orderNo: string; merchantId: string; goodsTotalFen: Fen; feeFen: Fen }[];
  /** True when the idempotency key named an existing checkout: nothing was placed this time. */
  replayed: boolean;
}

async function existingCheckout(db: Db, buyerId: string, idempotencyKey: string, marketId: string, lines: { listingId: string; quantity: number }[]): Promise<PlaceCheckoutResult | null> {
  const row = await db.selectFrom("market_checkouts").selectAll().where("buyer_id", "=", buyerId).where("idempotency_key", "=", idempotencyKey).executeTakeFirst();
  if (!row) return null;
  const placed = await db
    .selectFrom("market_order_lines as l")
    .innerJoin("market_orders as o", "o.id", "l.order_id")
    .select(["l.listing_id", "l.quantity"])
    .where("o.checkout_id", "=", row.id)
    .execute();
  const asked = new Map<string, number>();
  for (const l of lines) asked.set(l.listingId, (asked.get(l.listingId) ?? 0) + l.quantity);
  const same = row.market_id === marketId && placed.length === asked.size && placed.every((p) => asked.get(p.listing_id) === p.quantity);
  if (!same) {
    throw new DomainError("idempotency_conflict", `idempotency key ${idempotencyKey} was used for another checkout`, { idempotencyKey: "already used with other lines" });
  }
  const orders = await db
    .selectFrom("market_orders")
    .select(["id", "order_no", "merchant_id", "goods_total_fen", "fee_fen"])
    .where("checkout_id", "=", row.id)
    .orderBy(sql`length(order_no)`)
    .orderBy("order_no")
    .execute();
  return {
    checkout: checkoutView(row),
    orders: orders.map((o) => ({ id: o.id, orderNo: o.order_no, merchantId: o.merchant_id, goodsTotalFen: o.goods_total_fen, feeFen: o.fee_fen })),
    replayed: true,
  };
}

/**
 * A market order's number: MO, the Shanghai business date, then the sequence zero-padded to at
 * least six digits and never cut — the dealer orders' rule (orders.server.ts `orderNumber`). A
 * fixed six-digit pad would cut the millionth order to six digits and collide with an earlier one.
 * Past 999,999 the number grows a digit, so "in sequence" is (length, text) order: sort by both.
 */
function marketOrderNumber(datePart: string) {
  return sql<string>`(select ${"MO" + datePart}::text || lpad(s.n::text, greatest(6, length(s.n::text)), '0')
    from nextval('market_order_no_seq') as s (n))`;
}

/**
 * Place a buyer's checkout in one market: one order per merchant, stock reserved (E2), the
 * commission fixed from the schedules in force now. The same idempotency key returns the same
 * checkout (and refuses other lines); nothing is written when any line is refused.
 */
export async function placeCheckout(db: Db, actor: Actor, raw: CheckoutInput, now: Date): Promise<PlaceCheckoutResult> {
  const input = parse(checkoutInputSchema, raw);
  if (actor.organizationId !== null && actor.organizationId !== input.buyerId) {
    throw new DomainError("forbidden", "only the buyer may place its checkout", { buyerId: "not yours" });
  }
  // One line per listing: the same listing twice is one line of the summed quantity.
  const quantities = new Map<string, number>();
  const firstIndex = new Map<string, number>();
  input.lines.forEach((l, i) => {
    quantities.set(l.listingId, (quantities.get(l.listingId) ?? 0) + l.quantity);
    if (!firstIndex.has(l.listingId)) firstIndex.set(l.listingId, i);
  });
  const lineField = (listingId: string, field: string) => `lines[${firstIndex.get(listingId)}].${field}`;

  const seen = await existingCheckout(db, input.buyerId, input.idempotencyKey, input.marketId, input.lines);
  if (seen) return seen;

  return inTransaction(db, async (trx) => {
    const buyer = await trx.selectFrom("organizations").select(["id", "kind", "status"]).where("id", "=", input.buyerId).executeTakeFirst();
    if (!buyer || buyer.kind !== "buyer") throw new DomainError("not_found", "buyer not found", { buyerId: "not a buyer" });
    if (buyer.status !== "active") throw new DomainError("invalid_state", "the buyer organisation is suspended", { buyerId: "suspended" });
    const market = await trx.selectFrom("markets").select(["id", "operator_id", "status", "unpaid_expiry_minutes"]).where("id", "=", input.marketId).executeTakeFirst();
    if (!market) throw new DomainError("not_found", "market not found", { marketId: "not found" });
    if (market.status !== "active") throw new DomainError("invalid_state", "the market is closed", { marketId: "closed" });

    // The stock lock, in id order so two checkouts sharing listings queue instead of deadlocking.
    const ids = [...quantities.keys()].sort();
    const listings = await trx
      .selectFrom("market_listings as l")
      .innerJoin("market_merchants as mm", (j) => j.onRef("mm.market_id", "=", "l.market_id").onRef("mm.merchant_id", "=", "l.merchant_id"))
      .select([
        "l.id",
        "l.market_id",
        "l.merchant_id",
        "l.title",
        "l.category",
        "l.spec",
        "l.unit",
        "l.price_fen",
        "l.stock_qty",
        "l.min_order_qty",
        "l.status",
        "l.moderation_status",
        "mm.status as merchant_status",
      ])
      .where("l.id", "in", ids)
      .orderBy("l.id")
      .forUpdate("l")
      .execute();
    const byId = new Map(listings.map((l) => [l.id, l]));

    // The key is claimed before anything is changed: a concurrent twin waits on it, then replays.
    const expiresAt = new Date(now.getTime() + market.unpaid_expiry_minutes * 60_000);
    const fields: Record<string, string> = {};
    let totalFen = 0;
    for (const id of ids) {
      const l = byId.get(id);
      const qty = quantities.get(id)!;
      if (!l || l.market_id !== market.id) fields[lineField(id, "listingId")] = "no such listing in this market";
      else if (l.status !== "active" || l.moderation_status !== "visible" || l.merchant_status !== "active") fields[lineField(id, "listingId")] = "not on sale";
      else if (qty < l.min_order_qty) fields[lineField(id, "quantity")] = `below the minimum order of ${l.min_order_qty}`;
      else if (qty > l.stock_qty) fields[lineField(id, "quantity")] = `only ${l.stock_qty} in stock`;
      else totalFen += l.price_fen * qty;
    }
    if (Object.keys(fields).length > 0) {
      const outOfStock = Object.values(fields).every((m) => m.startsWith("only "));
      throw new DomainError(
        outOfStock ? "invalid_state" : "validation",
        Object.entries(fields)
          .map(([f, m]) => `${f}: ${m}`)
          .join("; "),
        fields,
      );
    }
    if (!Number.isSafeInteger(totalFen) || totalFen > 100_000_000_000_000) {
      throw new DomainError("validation", "the checkout total is too large", { lines: "total too large" });
    }

    const inserted = await trx
      .insertInto("market_checkouts")
      .values({
        market_id: market.id,
        operator_id: market.operator_id,
        buyer_id: input.buyerId,
        total_fen: totalFen,
        idempotency_key: input.idempotencyKey,
        expires_at: expiresAt,
        created_by: actor.userId,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.columns(["buyer_id", "idempotency_key"]).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!inserted) {
      const replay = await existingCheckout(trx, input.buyerId, input.idempotencyKey, input.marketId, input.lines);
      if (!replay) throw new Error("escrow invariant: checkout key conflicted but names no checkout");
      return replay;
    }

    await sql`
      update market_listings l set stock_qty = l.stock_qty - v.qty, updated_at = now()
        from (values ${sql.join(ids.map((id) => sql`(${id}::uuid, ${quantities.get(id)!}::int)`))}) as v (id, qty)
       where l.id = v.id`.execute(trx);

    // Fees: the schedule in force today for each category, kept on the lines (E: fee at placement).
    const categories = [...new Set(listings.map((l) => l.category))];
    const schedules = new Map<string, Awaited<ReturnType<typeof feeInForce>>>();
    for (const category of categories) schedules.set(category, await feeInForce(trx, market.id, category, now));

    const byMerchant = new Map<string, typeof listings>();
    for (const id of ids) {
      const l = byId.get(id)!;
      byMerchant.set(l.merchant_id, [...(byMerchant.get(l.merchant_id) ?? []), l]);
    }
    const datePart = shanghaiDate(now).replace(/-/g, "");
    const orders: PlaceCheckoutResult["orders"] = [];
    const timeline: TimelineEntry[] = [];
    for (const [merchantId, lines] of [...byMerchant].sort(([a], [b]) => a.localeCompare(b))) {
      const goodsTotalFen = lines.reduce((sum, l) => sum + l.price_fen * quantities.get(l.id)!, 0);
      // Commission per category (each with its minimum), summed for the order.
      const perCategory = new Map<string, number>();
      for (const l of lines) perCategory.set(l.category, (perCategory.get(l.category) ?? 0) + l.price_fen * quantities.get(l.id)!);
      let feeFen = 0;
      for (const [category, amount] of perCategory) {
        const schedule = schedules.get(category);
        if (schedule) feeFen += commissionFen(amount, schedule);
      }
      feeFen = Math.min(feeFen, goodsTotalFen);
      const order = await trx
        .insertInto("market_orders")
        .values({
          order_no: marketOrderNumber(datePart),
          market_id: market.id,
          operator_id: market.operator_id,
          checkout_id: inserted.id,
          buyer_id: input.buyerId,
          merchant_id: merchantId,
          goods_total_fen: goodsTotalFen,
          fee_fen: feeFen,
          hold_transfer_id: null,
          placed_at: now,
          updated_at: now,
        })
        .returning(["id", "order_no"])
        .executeTakeFirstOrThrow();
      await trx
        .insertInto("market_order_lines")
        .values(
          lines.map((l, i) => {
            const schedule = schedules.get(l.category);
            return {
              order_id: order.id,
              listing_id: l.id,
              line_no: i + 1,
              title: l.title,
              category: l.category,
              spec: l.spec,
              unit: l.unit,
              unit_price_fen: l.price_fen,
              quantity: quantities.get(l.id)!,
              amount_fen: l.price_fen * quantities.get(l.id)!,
              fee_schedule_id: schedule?.id ?? null,
              commission_rate_bps: schedule?.commissionRateBps ?? 0,
              min_fee_fen: schedule?.minFeeFen ?? 0,
            };
          }),
        )
        .execute();
      orders.push({ id: order.id, orderNo: order.order_no, merchantId, goodsTotalFen, feeFen });
      timeline.push({ orderId: order.id, event: "place", from: null, to: "placed" });
    }
    await writeTimeline(trx, actor, timeline, now);
    // The timer that gives the stock back if nobody pays: one sweep per expiry, run by the schedule too.
    await enqueue(trx, {
      queue: MARKET_ORDER_QUEUE,
      name: EXPIRE_CHECKOUTS_JOB,
      jobId: `market:${inserted.id}:expire`,
      payload: {},
      availableAt: new Date(expiresAt.getTime() + 1000),
    });
    return { checkout: checkoutView(inserted), orders, replayed: false };
  });
}

// ---------------------------------------------------------------------------------------------
// Payment

async function lockCheckout(trx: Trx, checkoutId: string) {
  if (!isUuid(checkoutId)) throw new DomainError("not_found", "checkout not found");
  const row = await trx.selectFrom("market_checkouts").selectAll().where("id", "=", checkoutId).forUpdate().executeTakeFirst();
  if (!row) throw new DomainError("not_found", "checkout not found");
  return row;
}

/**
 * Hold each order's goods total from the buyer's wallet towards its merchant (E1). The caller
 * holds the checkout's lock and has seen it `placed`; the wallet must already have the money.
 */
async function holdCheckout(trx: Trx, actor: Actor, checkout: { id: string; buyer_id: string }, now: Date, note: string): Promise<void> {
  const orders = await trx
    .selectFrom("market_orders as o")
    .select(ORDER_COLUMNS)
    .where("o.checkout_id", "=", checkout.id)
    .orderBy("o.id")
    .forUpdate()
    .execute();
  const buyerWallet = await ensureAccount(trx, walletSpec(checkout.buyer_id));
  // Made (if new) in one order for every payer: two first payments to the same new wallets would
  // otherwise each insert one and wait on the other's insert.
  const merchantWallets = new Map<string, AccountView>();
  for (const merchantId of [...new Set(orders.map((o) => o.merchant_id))].sort()) {
    merchantWallets.set(merchantId, await ensureAccount(trx, walletSpec(merchantId)));
  }
  // Every wallet this checkout moves money between, locked at once in id order before the first
  // hold: one transfer per order would lock {buyer, merchant} pairs in order-id order, and two
  // buyers paying checkouts with the same two merchants would then take them crosswise (deadlock).
  await lockAccountsByCodes(trx, [buyerWallet.code, ...[...merchantWallets.values()].map((w) => w.code)]);
  const timeline: TimelineEntry[] = [];
  for (const order of orders) {
    if (order.status !== "placed") continue;
    transitionOrRefuse(order, "pay", "system");
    const merchantWallet = merchantWallets.get(order.merchant_id) as AccountView;
    const { transfer: hold } = await transfer(trx, {
      idempotencyKey: `market_order:${order.id}:hold`,
      kind: "escrow_hold",
      reference: `market_order:${order.id}`,
      debitAccountId: buyerWallet.id,
      creditAccountId: merchantWallet.id,
      amountFen: order.goods_total_fen,
      pending: true,
      createdByUserId: actor.userId,
    });
    await trx
      .updateTable("market_orders")
      .set({ status: "paid", hold_transfer_id: hold.id, paid_at: now, updated_at: now })
      .where("id", "=", order.id)
      .execute();
    timeline.push({ orderId: order.id, event: "pay", from: "placed", to: "paid", note });
    await requestNotification(trx, actor, {
      organizationId: order.merchant_id,
      topic: "market_order.paid",
      params: { orderId: order.id, number: order.order_no, counterparty: await organizationName(trx, order.buyer_id) },
      dedupeKey: `market_order.paid:${order.id}`,
    });
  }
  await trx.updateTable("market_checkouts").set({ status: "paid", updated_at: now }).where("id", "=", checkout.id).execute();
  await writeTimeline(trx, actor, timeline, now);
}

/** Start (or resume) the e-Pay payment of a placed checkout; the same checkout gives the same payment. */
export async function startCheckoutPayment(
  db: Db,
  actor: Actor,
  buyerId: string,
  checkoutId: string,
  deps: PaymentsDeps | undefined,
  now: Date,
): Promise<{ payUrl: string; paymentId: string }> {
  if (!isUuid(checkoutId)) throw new DomainError("not_found", "checkout not found");
  const checkout = await db
    .selectFrom("market_checkouts as c")
    .innerJoin("markets as m", "m.id", "c.market_id")
    .select(["c.id", "c.buyer_id", "c.operator_id", "c.total_fen", "c.status", "c.expires_at", "m.name as market_name"])
    .where("c.id", "=", checkoutId)
    .executeTakeFirst();
  if (!checkout || checkout.buyer_id !== buyerId) throw new DomainError("not_found", "checkout not found");
  if (checkout.status !== "placed") throw new DomainError("invalid_state", `the checkout is ${checkout.status}`, { status: checkout.status });
  if (checkout.expires_at.getTime() <= now.getTime()) throw new DomainError("invalid_state", "the checkout has expired", { status: "expired" });
  const orderNos = await db.selectFrom("market_orders").select("order_no").where("checkout_id", "=", checkout.id).orderBy(sql`length(order_no)`).orderBy("order_no").execute();
  // One attempt at a time; after a failed one, a new attempt under its own key (never the failed one's page).
  const result = await startPaymentAttempt(
    db,
    actor,
    {
      payerOrganizationId: buyerId,
      // The operator runs the market's escrow: the payment is made out to it; the ledger holds it.
      payeeOrganizationId: checkout.operator_id,
      purpose: "market_order",
      reference: `market_checkout:${checkout.id}`,
      amountFen: checkout.total_fen,
      description: `${checkout.market_name} ${orderNos.map((o) => o.order_no).join(" ")}`.slice(0, 100),
      returnPath: `/market/checkouts/${checkout.id}`,
    },
    deps,
  );
  // The checkout names its latest attempt: the one its expiry and cancellation look at.
  await db
    .updateTable("market_checkouts")
    .set({ payment_id: result.payment.id, updated_at: now })
    .where("id", "=", checkout.id)
    .where("status", "=", "placed")
    .execute();
  return { payUrl: result.payUrl, paymentId: result.payment.id };
}

/**
 * The `market_order` purpose handler: a captured payment of a checkout holds its orders. Runs in
 * the capture's own transaction (decision 021), once per payment; a checkout already paid, expired
 * or cancelled first leaves the money in the buyer's wallet (recorded here and by the caller).
 */
export async function applyCapturedMarketPayment(trx: Trx, payment: Payment, now: Date): Promise<PurposeResult> {
  const match = /^market_checkout:([0-9a-f-]{36})$/.exec(payment.reference);
  if (!match) throw new DomainError("validation", `payment ${payment.id} names no checkout (${payment.reference})`);
  const checkout = await lockCheckout(trx, match[1]);
  const actor: Actor = { userId: null, organizationId: null };
  if (checkout.buyer_id !== payment.payerOrganizationId || checkout.total_fen !== payment.amountFen) {
    throw new DomainError("validation", `payment ${payment.id} does not match checkout ${checkout.id} (payer or amount)`);
  }
  if (checkout.status === "placed") {
    await holdCheckout(trx, actor, checkout, now, `e-Pay ${payment.id}`);
    return { outcome: "applied" };
  }
  // Paid another way meanwhile, or closed (expired, cancelled): this money belongs to no order now.
  // (The wallet path refuses while this payment is pending, so `paid` here is not expected.)
  await recordAudits(trx, actor, [
    {
      action: "market_checkout.late_payment",
      entityType: "market_checkout",
      entityId: checkout.id,
      organizationId: checkout.buyer_id,
      after: { payment_id: payment.id, amount_fen: payment.amountFen, left_in: "buyer wallet", checkout_status: checkout.status },
    },
  ]);
  return { outcome: "left_in_wallet", why: `checkout ${checkout.status}` };
}

/** Pay a placed checkout from the buyer's wallet balance (money already with the bank). */
export async function payCheckoutFromWallet(db: Db, actor: Actor, buyerId: string, checkoutId: string, now: Date): Promise<Checkout> {
  return inTransaction(db, async (trx) => {
    const checkout = await lockCheckout(trx, checkoutId);
    if (checkout.buyer_id !== buyerId) throw new DomainError("not_found", "checkout not found");
    // A paid checkout is not paid again: 409, as every action in the wrong state (an API retry with
    // the same Idempotency-Key gets its first answer replayed before it reaches here).
    if (checkout.status !== "placed") throw new DomainError("invalid_state", `the checkout is ${checkout.status}`, { status: checkout.status });
    if (checkout.expires_at.getTime() <= now.getTime()) throw new DomainError("invalid_state", "the checkout has expired", { status: "expired" });
    await refuseWhilePaymentInFlight(trx, buyerId, `market_checkout:${checkout.id}`);
    try {
      await holdCheckout(trx, actor, checkout, now, "wallet");
    } catch (error) {
      if (error instanceof DomainError && error.code === "insufficient_funds") {
        throw new DomainError("insufficient_funds", "the wallet's available balance does not cover the checkout", { wallet: "not enough available" });
      }
      throw error;
    }
    return checkoutView({ ...checkout, status: "paid" });
  });
}

/** The buyer gives up an unpaid checkout: every order cancelled, the stock back on sale. */
export async function cancelCheckout(db: Db, actor: Actor, buyerId: string, checkoutId: string, now: Date): Promise<Checkout> {
  return inTransaction(db, async (trx) => {
    const checkout = await lockCheckout(trx, checkoutId);
    if (checkout.buyer_id !== buyerId) throw new DomainError("not_found", "checkout not found");
    if (checkout.status !== "placed") throw new DomainError("invalid_state", `the checkout is ${checkout.status}`, { status: checkout.status });
    if (checkout.payment_id) {
      const payment = await trx.selectFrom("payments").select("status").where("id", "=", checkout.payment_id).executeTakeFirst();
      if (payment && payment.status !== "created" && payment.status !== "failed") {
        throw new DomainError("invalid_state", "the payment has gone through; the orders are being held", { status: "paying" });
      }
    }
    await closeUnpaidCheckout(trx, actor, checkout.id, "cancel", now);
    return checkoutView({ ...checkout, status: "cancelled" });
  });
}

async function closeUnpaidCheckout(trx: Trx, actor: Actor, checkoutId: string, event: "cancel" | "expire", now: Date): Promise<void> {
  const orders = await trx.selectFrom("market_orders as o").select(ORDER_COLUMNS).where("o.checkout_id", "=", checkoutId).orderBy("o.id").forUpdate().execute();
  const closing = orders.filter((o) => o.status === "placed");
  for (const o of closing) transitionOrRefuse(o, event, event === "cancel" ? "buyer" : "system");
  const to: MarketOrderStatus = event === "cancel" ? "cancelled" : "expired";
  if (closing.length > 0) {
    await trx
      .updateTable("market_orders")
      .set({ status: to, closed_at: now, updated_at: now })
      .where("id", "in", closing.map((o) => o.id))
      .execute();
    await restock(trx, closing.map((o) => o.id));
  }
  await trx.updateTable("market_checkouts").set({ status: to, updated_at: now }).where("id", "=", checkoutId).execute();
  await writeTimeline(trx, actor, closing.map((o) => ({ orderId: o.id, event, from: "placed", to })), now);
}

// ---------------------------------------------------------------------------------------------
// Timers

/** Checkouts nobody paid in time: orders expired, stock back. A payment already captured is not expired. */
export async function expireUnpaidCheckouts(db: Db, now: Date, limit: number = ESCROW_LIMITS.sweepBatch): Promise<string[]> {
  return inTransaction(db, async (trx) => {
    const due = await trx
      .selectFrom("market_checkouts as c")
      .leftJoin("payments as p", "p.id", "c.payment_id")
      .select(["c.id"])
      .where("c.status", "=", "placed")
      .where("c.expires_at", "<=", now)
      .where((eb) => eb.or([eb("p.id", "is", null), eb("p.status", "in", ["created", "failed"])]))
      .orderBy("c.expires_at")
      .limit(limit)
      .forUpdate("c")
      .skipLocked()
      .execute();
    for (const c of due) await closeUnpaidCheckout(trx, { userId: null, organizationId: null }, c.id, "expire", now);
    return due.map((c) => c.id);
  });
}

