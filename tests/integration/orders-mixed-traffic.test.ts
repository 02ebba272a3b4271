import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db, DbHandle } from "../../db";
import { ensureAccount, transfer, verifyLedger } from "../../app/domain/ledger/ledger.server";
import { cancelOrder } from "../../app/domain/orders/cancel.server";
import { shipOrder, receiveOrder } from "../../app/domain/orders/fulfilment.server";
import { payFromWallet, repayOnAccount } from "../../app/domain/orders/payment.server";
import { createOrder } from "../../app/domain/orders/placement.server";
import { getOrder } from "../../app/domain/orders/queries.server";
import { confirmOrder } from "../../app/domain/orders/review.server";
import { actorOf, makeLink, makeSku, newOrg, newUser } from "./catalog.fixtures";
import { createTestDatabase } from "../support/db";

/**
 * Issue 13: under mixed concurrent traffic on one supplier — orders placed on account and unpaid,
 * confirmed, cancelled before and after confirmation, paid from the wallet, shipped, received,
 * repaid — no transaction may lose to a deadlock. Every operation runs in a transaction of its own,
 * as the API runs it. The pairs that met before the fix (PostgreSQL's log named them):
 *  - a placement holding its credit line's account inserted order lines, whose foreign key check
 *    takes KEY SHARE on each SKU, while a confirmation held those SKUs FOR UPDATE (reserving
 *    stock) and waited for the same credit line: stock locks are FOR NO KEY UPDATE now, which KEY
 *    SHARE does not wait for (catalog lockSkusForStock, ledger account locks likewise);
 *  - a shipment (or a cancellation, a return, a season's release) moved stock SKU by SKU in line
 *    order while a confirmation locked the same SKUs in id order: every multi-SKU stock change now
 *    takes its locks in id order first;
 *  - two confirmations: the lock and the UPDATE in one statement made the UPDATE re-lock rows that
 *    had moved since the statement's snapshot, queueing behind a waiter of its own: the lock is now
 *    a statement of its own.
 * The traffic is random but bounded (8 clients, a fixed number of operations each); the seed of
 * the mix is printed on failure.
 */

const CLIENTS = 8;
const OPERATIONS_PER_CLIENT = 60;
const SKUS = 5;
const DEALERS = 4;

/** A small deterministic generator, so a failing mix can be replayed with MIX_SEED. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function fundWallet(db: Db, organizationId: string, amountFen: number) {
  const clearing = await ensureAccount(db, { kind: "gateway_clearing", organizationId: null });
  const wallet = await ensureAccount(db, { kind: "wallet", organizationId });
  await transfer(db, { idempotencyKey: `fund:${organizationId}`, kind: "topup", reference: `test:${organizationId}`, debitAccountId: clearing.id, creditAccountId: wallet.id, amountFen });
}

describe("orders under mixed concurrent traffic", () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await createTestDatabase({ poolMax: 20 });
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("places, confirms, cancels, pays, ships, receives and repays at once without a deadlock", async () => {
    const { db } = handle;
    const seed = Number(process.env.MIX_SEED ?? Date.now() % 1_000_000);
    const next = random(seed);
    const core = await newOrg(db, "core_enterprise");
    const asCore = actorOf(core, await newUser(db));
    const skus: { id: string }[] = [];
    for (let i = 0; i < SKUS; i++) skus.push(await makeSku(db, core, { basePriceFen: 1_000, stockOnHand: 1_000_000 }));
    const dealers: { id: string; actor: ReturnType<typeof actorOf> }[] = [];
    for (let i = 0; i < DEALERS; i++) {
      const link = await makeLink(db, core, { creditLimitFen: 1_000_000_000 });
      await fundWallet(db, link.dealerId, 1_000_000_000);
      dealers.push({ id: link.dealerId, actor: actorOf(link.dealerId, await newUser(db)) });
    }
    type Open = { id: string; dealer: number; onAccount: boolean };
    const submitted: Open[] = [];
    const awaitingPayment: Open[] = [];
    const paid: Open[] = [];
    const shipped: Open[] = [];
    const outcomes = new Map<string, number>();
    const count = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
    const take = <T>(list: T[]): T | undefined => (list.length ? list.splice(Math.floor(next() * list.length), 1)[0] : undefined);
    const inTransaction = <T>(work: (trx: Db) => Promise<T>) => db.transaction().execute(work);

    async function client(c: number) {
      for (let op = 0; op < OPERATIONS_PER_CLIENT; op++) {
        const roll = next();
        try {
          if (roll < 0.35 || submitted.length === 0) {
            const dealer = c % DEALERS;
            const onAccount = next() < 0.7;
            // Three of the SKUs, in a random order: lines name SKUs in whatever order a dealer types them.
            const lines = [...skus].sort(() => next() - 0.5).slice(0, 3).map((sku) => ({ skuId: sku.id, quantity: 1 + Math.floor(next() * 3) }));
            const order = await inTransaction((trx) =>
              createOrder(trx, dealers[dealer].actor, { dealerId: dealers[dealer].id, coreEnterpriseId: core, kind: "standard", lines, ...(onAccount ? { paymentMethod: "on_account" as const } : {}) }, new Date()),
            );
            submitted.push({ id: order.id, dealer, onAccount });
            count("placed");
          } else if (roll < 0.55) {
            const order = take(submitted);
            if (!order) continue;
            await inTransaction((trx) => confirmOrder(trx, asCore, order.id, new Date()));
            (order.onAccount ? paid : awaitingPayment).push(order);
            count("confirmed");
          } else if (roll < 0.65) {
            const order = take(awaitingPayment);
            if (!order) continue;
            await inTransaction((trx) => payFromWallet(trx, dealers[order.dealer].actor, order.id, new Date()));
            paid.push(order);
            count("paid from wallet");
          } else if (roll < 0.75) {
            const order = take(next() < 0.5 ? submitted : paid);
            if (!order) continue;
            await inTransaction((trx) => cancelOrder(trx, dealers[order.dealer].actor, order.id, "计划变更", new Date()));
            count("cancelled");
          } else if (roll < 0.88) {
            const order = take(paid);
            if (!order) continue;
            const detail = await getOrder(db, core, order.id);
            const lines = detail.lines.map((line) => ({ lineId: line.id, quantity: line.quantity_confirmed ?? line.quantity_ordered }));
            await inTransaction((trx) => shipOrder(trx, asCore, order.id, { carrier: "顺丰", trackingNumber: `SF${op}${c}`, lines }, new Date()));
            shipped.push(order);
            count("shipped");
          } else {
            const order = take(shipped);
            if (!order) continue;
            await inTransaction((trx) => receiveOrder(trx, dealers[order.dealer].actor, order.id, new Date()));
            if (order.onAccount) await inTransaction((trx) => repayOnAccount(trx, dealers[order.dealer].actor, order.id));
            count(order.onAccount ? "received and repaid" : "received");
          }
        } catch (error) {
          const e = error as { code?: string; message?: string };
          count(`refused ${e.code ?? "?"}: ${String(e.message).slice(0, 60)}`);
        }
      }
    }
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));

    const mix = Object.fromEntries([...outcomes].sort());
    const context = `seed ${seed} (MIX_SEED=${seed} replays the mix): ${JSON.stringify(mix)}`;
    expect(Object.keys(mix).filter((k) => k.startsWith("refused")), context).toEqual([]);
    // Every kind of operation ran, or the test proved less than it says.
    for (const what of ["placed", "confirmed", "paid from wallet", "cancelled", "shipped", "received and repaid"]) expect(mix[what] ?? 0, `${what}: ${context}`).toBeGreaterThan(0);
    expect(await verifyLedger(db)).toEqual([]);
  }, 120_000);
});
