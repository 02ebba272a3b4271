import { sql } from "kysely";
import { type Db, inTransaction } from "../../../db";
import { type Actor, recordAudit, DomainError, isUuid } from "../shared";
import { lockSkusForStock, reserveStock } from "../catalog";
import type { Fen } from "../ledger";
import { fire, lockOrder, notifyParty, requireText } from "./internal.server";

/** Preorders (订货会): seasons, and releasing a season's goods. */

// ---------------------------------------------------------------------------------------------
// Preorders: seasons and release

export async function createSeason(db: Db, actor: Actor, coreEnterpriseId: string, input: { name: string; depositRateBps: number }) {
  const name = requireText(input.name, "name", 100);
  if (!Number.isSafeInteger(input.depositRateBps) || input.depositRateBps < 0 || input.depositRateBps > 10_000) {
    throw new DomainError("validation", "The deposit is a percentage from 0 to 100", { deposit_rate_bps: "0 to 10000" });
  }
  return inTransaction(db, async (trx) => {
    const season = await trx
      .insertInto("seasons")
      .values({ core_enterprise_id: coreEnterpriseId, name, deposit_rate_bps: input.depositRateBps })
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(trx, actor, { action: "season.created", entityType: "season", entityId: season.id, after: { name, deposit_rate_bps: input.depositRateBps } });
    return season;
  });
}

export async function listSeasons(db: Db, coreEnterpriseId: string) {
  return db.selectFrom("seasons").selectAll().where("core_enterprise_id", "=", coreEnterpriseId).orderBy("created_at", "desc").limit(50).execute();
}

/** Seasons a dealer page lists at most, and its own bookings shown per season at most. */
const DEALER_SEASONS_LIMIT = 100;
const DEALER_SEASON_BOOKINGS_SHOWN = 20;

export interface DealerSeason {
  id: string;
  name: string;
  status: "open" | "closed" | "released";
  depositRateBps: number;
  coreEnterpriseId: string;
  supplierName: string;
  createdAt: Date;
  /** When the goods were released: from then on each booking's balance is due. */
  releasedAt: Date | null;
  /** The dealer's own bookings in this season (not drafts), newest first. */
  bookings: { id: string; number: string; status: string; totalFen: Fen; paidFen: Fen }[];
}

/**
 * The seasons a dealer can see, from every supplier it is actively linked to: those open for
 * booking, and released or closed ones it booked in (its balances). Another supplier's season —
 * one the dealer is not linked to — is never listed.
 */
export async function listSeasonsForDealer(db: Db, dealerId: string): Promise<DealerSeason[]> {
  if (!isUuid(dealerId)) return [];
  const rows = await db
    .selectFrom("seasons as s")
    .innerJoin("dealer_links as l", (join) => join.onRef("l.core_enterprise_id", "=", "s.core_enterprise_id").on("l.dealer_id", "=", dealerId).on("l.status", "=", "active"))
    .innerJoin("organizations as c", "c.id", "s.core_enterprise_id")
    .select(["s.id", "s.name", "s.status", "s.deposit_rate_bps", "s.core_enterprise_id", "c.name as supplier_name", "s.created_at", "s.released_at"])
    .where((eb) =>
      eb.or([
        eb("s.status", "=", "open"),
        eb.exists(eb.selectFrom("orders as o").select("o.id").whereRef("o.season_id", "=", "s.id").where("o.dealer_id", "=", dealerId).where("o.status", "!=", "draft")),
      ]),
    )
    .orderBy(sql`s.status = 'open'`, "desc")
    .orderBy("s.created_at", "desc")
    .limit(DEALER_SEASONS_LIMIT)
    .execute();
  if (rows.length === 0) return [];
  const bookings = await db
    .selectFrom("orders")
    .select(["id", "number", "status", "total_fen", "paid_fen", "season_id", "created_at"])
    .where("dealer_id", "=", dealerId)
    .where("season_id", "in", rows.map((r) => r.id))
    .where("status", "!=", "draft")
    .orderBy("created_at", "desc")
    .limit(DEALER_SEASONS_LIMIT * DEALER_SEASON_BOOKINGS_SHOWN)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    status: r.status,
    depositRateBps: r.deposit_rate_bps,
    coreEnterpriseId: r.core_enterprise_id,
    supplierName: r.supplier_name,
    createdAt: r.created_at,
    releasedAt: r.released_at,
    bookings: bookings
      .filter((b) => b.season_id === r.id)
      .slice(0, DEALER_SEASON_BOOKINGS_SHOWN)
      .map((b) => ({ id: b.id, number: b.number, status: b.status, totalFen: b.total_fen, paidFen: b.paid_fen })),
  }));
}

/**
 * The goods of a season are ready: every deposit-paid booking reserves its stock and its balance
 * falls due. A booking whose stock is short stays deposit-paid and is listed, so the supplier can
 * restock and release again.
 */
export async function releaseSeason(db: Db, actor: Actor, coreEnterpriseId: string, seasonId: string, now: Date): Promise<{ released: string[]; short: { number: string; message: string }[] }> {
  if (!isUuid(seasonId)) throw new DomainError("not_found", "season not found");
  const season = await db.selectFrom("seasons").selectAll().where("id", "=", seasonId).where("core_enterprise_id", "=", coreEnterpriseId).executeTakeFirst();
  if (!season) throw new DomainError("not_found", "season not found");
  const bookings = await db.selectFrom("orders").select(["id", "number"]).where("season_id", "=", seasonId).where("status", "=", "deposit_paid").orderBy("created_at").execute();
  const released: string[] = [];
  const short: { number: string; message: string }[] = [];
  for (const booking of bookings) {
    try {
      await inTransaction(db, async (trx) => {
        const { order, party } = await lockOrder(trx, actor.organizationId, booking.id);
        const lines = await trx.selectFrom("order_lines").selectAll().where("order_id", "=", order.id).execute();
        await lockSkusForStock(trx, lines.map((line) => line.sku_id));
        for (const line of lines) {
          if ((line.quantity_confirmed ?? 0) > 0) await reserveStock(trx, { skuId: line.sku_id, quantity: line.quantity_confirmed! });
        }
        const due = await fire(trx, actor, order, party, "release");
        await notifyParty(trx, actor, due, "order.balance_due");
      });
      released.push(booking.number);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      short.push({ number: booking.number, message: error.message });
    }
  }
  await inTransaction(db, async (trx) => {
    await trx.updateTable("seasons").set({ status: "released", released_at: now }).where("id", "=", seasonId).execute();
    await recordAudit(trx, actor, { action: "season.released", entityType: "season", entityId: seasonId, after: { released: released.length, short: short.length } });
  });
  return { released, short };
}
