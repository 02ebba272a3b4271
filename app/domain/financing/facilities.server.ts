import { inTransaction, type Db } from "../../../db";
import type { FacilityKind } from "../../../db/schema";
import { type Actor, DomainError, isUuid, isBusinessDate, recordAudit } from "../shared";
import { accountView, ensureAccount, transfer, type AccountView, type Fen } from "../ledger";
import { accountCodes, bankOrganizationId, dateText, ensureIncomeAccounts, type FacilityRow } from "./internal.server";

/**
 * Facilities: how much the bank will lend a borrower on a product, and how much a core enterprise
 * guarantees for its dealers (in total, and per dealer). The limit is never a column: it is the
 * sum of two ledger accounts, `facility_available:<id>` (unused) and `facility_used:<id>` (drawn,
 * held by open applications as pending). An application reserves available → used; the ledger's
 * row lock and its rule that available may not go below zero are what keep a hundred concurrent
 * applications inside one limit (the trade-credit pattern, credit.server.ts).
 */

export const FACILITY_LIMITS = {
  maxLimitFen: 10_000_000_000,
} as const;

export interface FacilitySummary {
  id: string;
  kind: FacilityKind;
  productId: string | null;
  borrowerOrganizationId: string | null;
  borrowerName: string | null;
  guarantorOrganizationId: string | null;
  guarantorName: string | null;
  parentFacilityId: string | null;
  buyBackDays: number | null;
  validTo: string;
  status: "active" | "suspended";
  limitFen: Fen;
  usedFen: Fen;
  availableFen: Fen;
}

const facilityColumns = [
  "id",
  "kind",
  "product_id",
  "borrower_organization_id",
  "guarantor_organization_id",
  "parent_facility_id",
  "buy_back_days",
  dateText("valid_to").as("valid_to"),
  "status",
  "approved_by_user_id",
  "created_at",
] as const;

function summarise(row: FacilityRow, available: AccountView | undefined, used: AccountView | undefined, names: ReadonlyMap<string, string>): FacilitySummary {
  const availableFen = available ? available.availableFen : 0;
  // Pending reservations count as used: they are promised to applications.
  const usedFen = (used?.balanceFen ?? 0) + (available?.pendingFen ?? 0);
  return {
    id: row.id,
    kind: row.kind,
    productId: row.product_id,
    borrowerOrganizationId: row.borrower_organization_id,
    borrowerName: row.borrower_organization_id ? (names.get(row.borrower_organization_id) ?? null) : null,
    guarantorOrganizationId: row.guarantor_organization_id,
    guarantorName: row.guarantor_organization_id ? (names.get(row.guarantor_organization_id) ?? null) : null,
    parentFacilityId: row.parent_facility_id,
    buyBackDays: row.buy_back_days,
    validTo: row.valid_to,
    status: row.status,
    limitFen: availableFen + usedFen,
    usedFen,
    availableFen,
  };
}

/** Facilities with their limits from the ledger and their parties' names, in three statements however many. */
export async function summariseFacilities(db: Db, rows: readonly FacilityRow[]): Promise<FacilitySummary[]> {
  if (rows.length === 0) return [];
  const codes = rows.flatMap((r) => [accountCodes.facilityAvailable(r.id), accountCodes.facilityUsed(r.id)]);
  const accounts = await db.selectFrom("ledger_accounts").selectAll().where("code", "in", codes).execute();
  const byCode = new Map(accounts.map((a) => [a.code, accountView(a)]));
  const parties = [...new Set(rows.flatMap((r) => [r.borrower_organization_id, r.guarantor_organization_id]).filter((id): id is string => id !== null))];
  const orgs = parties.length ? await db.selectFrom("organizations").select(["id", "name"]).where("id", "in", parties).execute() : [];
  const names = new Map(orgs.map((o) => [o.id, o.name]));
  return rows.map((r) => summarise(r, byCode.get(accountCodes.facilityAvailable(r.id)), byCode.get(accountCodes.facilityUsed(r.id)), names));
}

export async function getFacility(db: Db, facilityId: string): Promise<FacilitySummary> {
  if (!isUuid(facilityId)) throw new DomainError("not_found", "facility not found");
  const row = await db.selectFrom("financing_facilities").select(facilityColumns).where("id", "=", facilityId).executeTakeFirst();
  if (!row) throw new DomainError("not_found", "facility not found");
  return (await summariseFacilities(db, [row as FacilityRow]))[0]!;
}

export async function listFacilities(db: Db, scope: { borrowerOrganizationId?: string; guarantorOrganizationId?: string; kind?: FacilityKind } = {}): Promise<FacilitySummary[]> {
  let q = db.selectFrom("financing_facilities").select(facilityColumns).orderBy("created_at");
  if (scope.borrowerOrganizationId) q = q.where("borrower_organization_id", "=", scope.borrowerOrganizationId);
  if (scope.guarantorOrganizationId) q = q.where("guarantor_organization_id", "=", scope.guarantorOrganizationId);
  if (scope.kind) q = q.where("kind", "=", scope.kind);
  return summariseFacilities(db, (await q.limit(500).execute()) as FacilityRow[]);
}

/** The facility rows an application for this borrower, product and guarantor draws on. */
export async function facilitiesFor(db: Db, borrowerId: string, productId: string, guarantorId: string | null) {
  const limit = await db
    .selectFrom("financing_facilities")
    .select(facilityColumns)
    .where("kind", "=", "borrower_limit")
    .where("borrower_organization_id", "=", borrowerId)
    .where("product_id", "=", productId)
    .executeTakeFirst();
  let agreement: FacilityRow | undefined;
  let sub: FacilityRow | undefined;
  if (guarantorId) {
    agreement = (await db.selectFrom("financing_facilities").select(facilityColumns).where("kind", "=", "guarantee").where("guarantor_organization_id", "=", guarantorId).executeTakeFirst()) as FacilityRow | undefined;
    if (agreement) {
      sub = (await db
        .selectFrom("financing_facilities")
        .select(facilityColumns)
        .where("kind", "=", "guarantee_sub")
        .where("parent_facility_id", "=", agreement.id)
        .where("borrower_organization_id", "=", borrowerId)
        .executeTakeFirst()) as FacilityRow | undefined;
    }
  }
  return { limit: limit as FacilityRow | undefined, agreement, sub };
}

export interface FacilityInput {
  kind: FacilityKind;
  productId?: string | null;
  borrowerOrganizationId?: string | null;
  guarantorOrganizationId?: string | null;
  parentFacilityId?: string | null;
  buyBackDays?: number | null;
  validTo: string;
  limitFen: Fen;
}

/**
 * Open a facility and issue its limit, or, when one of its kind exists for the same parties,
 * change that one's limit and validity (an officer's decision either way, audited).
 */
export async function setFacility(db: Db, actor: Actor, input: FacilityInput): Promise<FacilitySummary> {
  if (!isBusinessDate(input.validTo)) throw new DomainError("validation", "valid_to must be a date written YYYY-MM-DD", { valid_to: "invalid_date" });
  if (!Number.isSafeInteger(input.limitFen) || input.limitFen < 0 || input.limitFen > FACILITY_LIMITS.maxLimitFen) {
    throw new DomainError("validation", "The limit must be a whole number of fen, zero or more", { limit_fen: "out of range" });
  }
  return inTransaction(db, async (trx) => {
    let existing: { id: string } | undefined;
    if (input.kind === "borrower_limit") {
      existing = await trx.selectFrom("financing_facilities").select("id").where("kind", "=", "borrower_limit").where("borrower_organization_id", "=", input.borrowerOrganizationId!).where("product_id", "=", input.productId!).executeTakeFirst();
    } else if (input.kind === "guarantee") {
      existing = await trx.selectFrom("financing_facilities").select("id").where("kind", "=", "guarantee").where("guarantor_organization_id", "=", input.guarantorOrganizationId!).executeTakeFirst();
    } else {
      existing = await trx.selectFrom("financing_facilities").select("id").where("kind", "=", "guarantee_sub").where("parent_facility_id", "=", input.parentFacilityId!).where("borrower_organization_id", "=", input.borrowerOrganizationId!).executeTakeFirst();
    }
    let facilityId: string;
    if (existing) {
      facilityId = existing.id;
      await trx.updateTable("financing_facilities").set({ valid_to: input.validTo, buy_back_days: input.buyBackDays ?? null, approved_by_user_id: actor.userId }).where("id", "=", facilityId).execute();
    } else {
      const row = await trx
        .insertInto("financing_facilities")
        .values({
          kind: input.kind,
          product_id: input.productId ?? null,
          borrower_organization_id: input.borrowerOrganizationId ?? null,
          guarantor_organization_id: input.guarantorOrganizationId ?? null,
          parent_facility_id: input.parentFacilityId ?? null,
          buy_back_days: input.kind === "guarantee" ? (input.buyBackDays ?? 30) : null,
          valid_to: input.validTo,
          approved_by_user_id: actor.userId,
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      facilityId = row.id;
    }
    await setLimit(trx, actor, facilityId, input.borrowerOrganizationId ?? input.guarantorOrganizationId!, input.limitFen);
    await recordAudit(trx, actor, { action: "financing.facility_set", entityType: "financing_facility", entityId: facilityId, after: { kind: input.kind, limit_fen: input.limitFen, valid_to: input.validTo } });
    return getFacility(trx, facilityId);
  });
}

async function setLimit(trx: Db, actor: Actor, facilityId: string, ownerId: string, limitFen: Fen): Promise<void> {
  const { issued } = await ensureIncomeAccounts(trx);
  const available = await ensureAccount(trx, { kind: "facility_available", organizationId: ownerId, code: accountCodes.facilityAvailable(facilityId) });
  const used = await ensureAccount(trx, { kind: "facility_used", organizationId: ownerId, code: accountCodes.facilityUsed(facilityId) });
  // Lock, then read: the change is computed from totals nobody else is moving.
  const locked = await trx.selectFrom("ledger_accounts").selectAll().where("id", "in", [available.id, used.id].sort()).orderBy("id").forNoKeyUpdate().execute();
  const a = accountView(locked.find((r) => r.id === available.id)!);
  const u = accountView(locked.find((r) => r.id === used.id)!);
  const currentLimit = a.balanceFen + u.balanceFen;
  const delta = limitFen - currentLimit;
  if (delta === 0) return;
  if (delta < 0 && -delta > a.availableFen) {
    throw new DomainError("validation", `${currentLimit - a.availableFen} fen of this limit is drawn or reserved: it cannot go below that`, { limit_fen: "below what is in use" });
  }
  const changes = await trx.selectFrom("ledger_transfers").select((eb) => eb.fn.countAll<number>().as("n")).where("reference", "=", `facility:${facilityId}`).where("kind", "in", ["facility_limit_raised", "facility_limit_lowered"]).executeTakeFirstOrThrow();
  await transfer(trx, {
    idempotencyKey: `facility_limit:${facilityId}:${Number(changes.n)}`,
    kind: delta > 0 ? "facility_limit_raised" : "facility_limit_lowered",
    reference: `facility:${facilityId}`,
    debitAccountId: delta > 0 ? issued.id : available.id,
    creditAccountId: delta > 0 ? available.id : issued.id,
    amountFen: Math.abs(delta),
    createdByUserId: actor.userId,
  });
}

export { bankOrganizationId };
