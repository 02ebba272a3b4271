import { sql } from "kysely";
import { z } from "zod";
import { inTransaction, type Db } from "../../../db";
import { jsonInstant, type JsonRow } from "../../../db/read-together";
import type { DealerLinkStatus } from "../../../db/schema";
import { recordAudit, type Actor, DomainError, isDomainError, decodeCursor, encodeCursor, isUuid } from "../shared";
import { isUniqueViolation, parseWholeNumber, parseYuanToFen } from "../catalog";
import { creditSummary, setCreditLimit, type CreditSummary } from "../credit";
import { type Fen } from "../ledger";

/**
 * The dealer network of a core enterprise: one `dealer_links` row per (core enterprise, dealer),
 * carrying tier, region, payment terms and status. The credit limit is NOT a column: it lives in
 * the ledger (credit.server.ts) and is read with `creditSummary` and set with `setCreditLimit`, in
 * the same transaction as the link change it belongs to.
 *
 * Status is a state machine, as data (`DEALER_LINK_TRANSITIONS`): active ⇄ suspended. A suspended
 * dealer keeps its history and credit line but `findActiveDealerLink` no longer finds it, so no
 * new order can be placed.
 */

export const DEALER_LIMITS = {
  pageSizeDefault: 50,
  pageSizeMax: 100,
  regionLength: 100,
  maxTermsDays: 365,
  reasonLength: 200,
  /** ¥100,000,000: a trade credit limit above this is a typo, not a decision. */
  maxCreditLimitFen: 10_000_000_000,
} as const;

export type DealerLinkEvent = "suspend" | "reactivate";

export const DEALER_LINK_TRANSITIONS: Record<DealerLinkStatus, Partial<Record<DealerLinkEvent, DealerLinkStatus>>> = {
  active: { suspend: "suspended" },
  suspended: { reactivate: "active" },
};

export function dealerLinkEvents(status: DealerLinkStatus): DealerLinkEvent[] {
  return Object.keys(DEALER_LINK_TRANSITIONS[status]) as DealerLinkEvent[];
}

export interface DealerLink {
  id: string;
  coreEnterpriseId: string;
  dealerId: string;
  dealerName: string;
  dealerNameEn: string | null;
  dealerUscc: string | null;
  tierId: string | null;
  tierName: string | null;
  region: string;
  paymentTermsDays: number;
  status: DealerLinkStatus;
  createdAt: Date;
  updatedAt: Date;
}

export interface DealerLinkWithCredit extends DealerLink {
  /** From the ledger, never from a column. */
  credit: CreditSummary;
}

const linkNotFound = () => new DomainError("not_found", "Dealer not found in your network");

function linkQuery(db: Db) {
  return db
    .selectFrom("dealer_links as l")
    .innerJoin("organizations as d", "d.id", "l.dealer_id")
    .leftJoin("dealer_tiers as t", "t.id", "l.tier_id")
    .select([
      "l.id",
      "l.core_enterprise_id",
      "l.dealer_id",
      "d.name as dealer_name",
      "d.name_en as dealer_name_en",
      "d.uscc as dealer_uscc",
      "l.tier_id",
      "t.name as tier_name",
      "l.region",
      "l.payment_terms_days",
      "l.status",
      "l.created_at",
      "l.updated_at",
    ]);
}

type LinkRow = Awaited<ReturnType<ReturnType<typeof linkQuery>["executeTakeFirstOrThrow"]>>;

function toLink(row: LinkRow): DealerLink {
  return {
    id: row.id,
    coreEnterpriseId: row.core_enterprise_id,
    dealerId: row.dealer_id,
    dealerName: row.dealer_name,
    dealerNameEn: row.dealer_name_en,
    dealerUscc: row.dealer_uscc,
    tierId: row.tier_id,
    tierName: row.tier_name,
    region: row.region,
    paymentTermsDays: row.payment_terms_days,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

async function withCredit(db: Db, link: DealerLink): Promise<DealerLinkWithCredit> {
  return { ...link, credit: await creditSummary(db, link.id) };
}

function auditView(link: DealerLink, limitFen?: Fen) {
  return {
    dealer_id: link.dealerId,
    tier_id: link.tierId,
    region: link.region,
    payment_terms_days: link.paymentTermsDays,
    status: link.status,
    ...(limitFen === undefined ? {} : { credit_limit_fen: limitFen }),
  };
}

// ---------------------------------------------------------------------------------------------
// Input

export interface DealerTermsInput {
  tierId: string | null;
  region: string;
  paymentTermsDays: number;
  creditLimitFen: Fen;
}

function checkTerms(input: DealerTermsInput): { tierId: string | null; region: string; paymentTermsDays: number; creditLimitFen: Fen } {
  const fields: Record<string, string> = {};
  const region = input.region.normalize("NFKC").trim();
  if (!region) fields.region = "required";
  else if (region.length > DEALER_LIMITS.regionLength) fields.region = "too_long";
  if (!Number.isSafeInteger(input.paymentTermsDays) || input.paymentTermsDays < 0 || input.paymentTermsDays > DEALER_LIMITS.maxTermsDays) {
    fields.paymentTermsDays = "out_of_range";
  }
  if (!Number.isSafeInteger(input.creditLimitFen) || input.creditLimitFen < 0 || input.creditLimitFen > DEALER_LIMITS.maxCreditLimitFen) {
    fields.creditLimit = "out_of_range";
  }
  if (input.tierId !== null && !isUuid(input.tierId)) fields.tierId = "unknown_tier";
  if (Object.keys(fields).length) {
    throw new DomainError(
      "validation",
      `Dealer terms are not valid: ${Object.entries(fields).map(([f, c]) => `${f} ${c}`).join(", ")}`,
      fields,
    );
  }
  return { ...input, region };
}

/** The form: region, terms in days, limit in yuan, tier (blank = none). Messages are problem codes. */
export const dealerTermsFormSchema = z.object({
  tierId: z.preprocess((v) => (v === "" ? null : v), z.string().trim().nullable().optional().transform((v) => v ?? null)),
  region: z
    .string({ required_error: "required", invalid_type_error: "required" })
    .trim()
    .min(1, "required")
    .max(DEALER_LIMITS.regionLength, "too_long"),
  paymentTermsDays: z
    .string({ required_error: "required", invalid_type_error: "required" })
    .trim()
    .min(1, "required")
    .transform((raw, ctx) => {
      const n = parseWholeNumber(raw);
      if (n === null || n > DEALER_LIMITS.maxTermsDays) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: n === null ? "whole_number" : "out_of_range" });
        return z.NEVER;
      }
      return n;
    }),
  creditLimit: z
    .string({ required_error: "required", invalid_type_error: "required" })
    .trim()
    .min(1, "required")
    .transform((raw, ctx) => {
      // Zero is a valid limit (no trade credit); parseYuanToFen accepts "0" and "0.00".
      const fen = parseYuanToFen(raw);
      if (fen === null || fen > DEALER_LIMITS.maxCreditLimitFen) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: fen === null ? "money_format" : "out_of_range" });
        return z.NEVER;
      }
      return fen;
    }),
});

async function assertTier(db: Db, coreEnterpriseId: string, tierId: string | null): Promise<void> {
  if (tierId === null) return;
  const tier = await db
    .selectFrom("dealer_tiers")
    .select("id")
    .where("id", "=", tierId)
    .where("core_enterprise_id", "=", coreEnterpriseId)
    .executeTakeFirst();
  if (!tier) throw new DomainError("validation", "Choose one of your tiers", { tierId: "unknown_tier" });
}

/** setCreditLimit refuses a limit below what is owed; say so under this form's field name. */
async function applyCreditLimit(trx: Db, actor: Actor, link: DealerLink, limitFen: Fen): Promise<CreditSummary> {
  try {
    return await setCreditLimit(trx, actor, { linkId: link.id, coreEnterpriseId: link.coreEnterpriseId, dealerId: link.dealerId }, limitFen);
  } catch (error) {
    if (isDomainError(error) && error.code === "validation" && error.fields.credit_limit_fen) {
      throw new DomainError("validation", error.message, { creditLimit: "below_used" });
    }
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface NewDealerLink extends DealerTermsInput {
  coreEnterpriseId: string;
  dealerId: string;
}

/**
 * Put a dealer in a core enterprise's network (recruitment's approval, the seed, tests). The link
 * and its credit limit are written in one transaction; a second link for the same pair is a
 * conflict.
 */
export async function createDealerLink(db: Db, actor: Actor, input: NewDealerLink): Promise<DealerLinkWithCredit> {
  const terms = checkTerms(input);
  return inTransaction(db, async (trx) => {
    const orgs = await trx
      .selectFrom("organizations")
      .select(["id", "kind"])
      .where("id", "in", [input.coreEnterpriseId, input.dealerId].filter(isUuid))
      .execute();
    if (orgs.find((o) => o.id === input.coreEnterpriseId)?.kind !== "core_enterprise") {
      throw new DomainError("validation", "Only a core enterprise has a dealer network", { coreEnterpriseId: "not_core_enterprise" });
    }
    if (orgs.find((o) => o.id === input.dealerId)?.kind !== "dealer") {
      throw new DomainError("validation", "Only a dealer organisation can join a dealer network", { dealerId: "not_dealer" });
    }
    await assertTier(trx, input.coreEnterpriseId, terms.tierId);
    let id: string;
    try {
      const row = await trx
        .insertInto("dealer_links")
        .values({
          core_enterprise_id: input.coreEnterpriseId,
          dealer_id: input.dealerId,
          tier_id: terms.tierId,
          region: terms.region,
          payment_terms_days: terms.paymentTermsDays,
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      id = row.id;
    } catch (error) {
      if (isUniqueViolation(error, "dealer_links_core_dealer")) {
        throw new DomainError("conflict", "This dealer is already in the network", { dealerId: "already_in_network" });
      }
      throw error;
    }
    const link = toLink(await linkQuery(trx).where("l.id", "=", id).executeTakeFirstOrThrow());
    await recordAudit(trx, actor, {
      action: "dealer_link.created",
      entityType: "dealer_link",
      entityId: id,
      organizationId: input.coreEnterpriseId,
      after: auditView(link, terms.creditLimitFen),
    });
    const credit = await applyCreditLimit(trx, actor, link, terms.creditLimitFen);
    return { ...link, credit };
  });
}

/** Change tier, region, payment terms and credit limit together, atomically. */
export async function updateDealerLink(
  db: Db,
  actor: Actor,
  coreEnterpriseId: string,
  linkId: string,
  input: DealerTermsInput,
): Promise<DealerLinkWithCredit> {
  const terms = checkTerms(input);
  return inTransaction(db, async (trx) => {
    const before = await lockLink(trx, coreEnterpriseId, linkId);
    await assertTier(trx, coreEnterpriseId, terms.tierId);
    const creditBefore = await creditSummary(trx, before.id);
    const changed =
      before.tierId !== terms.tierId || before.region !== terms.region || before.paymentTermsDays !== terms.paymentTermsDays;
    if (changed) {
      await trx
        .updateTable("dealer_links")
        .set({ tier_id: terms.tierId, region: terms.region, payment_terms_days: terms.paymentTermsDays, updated_at: sql`now()` })
        .where("id", "=", before.id)
        .where("core_enterprise_id", "=", coreEnterpriseId)
        .execute();
    }
    const after = changed ? await getLink(trx, coreEnterpriseId, before.id) : before;
    if (changed) {
      await recordAudit(trx, actor, {
        action: "dealer_link.updated",
        entityType: "dealer_link",
        entityId: before.id,
        organizationId: coreEnterpriseId,
        before: auditView(before),
        after: auditView(after),
      });
    }
    // setCreditLimit records its own audit event when the limit moves, and nothing when it does not.
    const credit = creditBefore.limitFen === terms.creditLimitFen ? creditBefore : await applyCreditLimit(trx, actor, before, terms.creditLimitFen);
    return { ...after, credit };
  });
}

/** Suspend or reactivate, by the transition table; anything else is `invalid_state`. */
export async function transitionDealerLink(
  db: Db,
  actor: Actor,
  coreEnterpriseId: string,
  linkId: string,
  event: DealerLinkEvent,
  reason = "",
): Promise<DealerLink> {
  const why = reason.trim();
  if (why.length > DEALER_LIMITS.reasonLength) throw new DomainError("validation", "The reason is too long", { reason: "too_long" });
  return inTransaction(db, async (trx) => {
    const before = await lockLink(trx, coreEnterpriseId, linkId);
    const to = DEALER_LINK_TRANSITIONS[before.status][event];
    if (!to) {
      throw new DomainError("invalid_state", `A ${before.status} dealer cannot be ${event === "suspend" ? "suspended" : "reactivated"}`, {
        status: "invalid_transition",
      });
    }
    await trx
      .updateTable("dealer_links")
      .set({ status: to, updated_at: sql`now()` })
      .where("id", "=", before.id)
      .where("core_enterprise_id", "=", coreEnterpriseId)
      .execute();
    await recordAudit(trx, actor, {
      action: event === "suspend" ? "dealer_link.suspended" : "dealer_link.reactivated",
      entityType: "dealer_link",
      entityId: before.id,
      organizationId: coreEnterpriseId,
      before: { status: before.status },
      after: { status: to, ...(why ? { reason: why } : {}) },
    });
    return { ...before, status: to };
  });
}

// ---------------------------------------------------------------------------------------------
// Reading: the core enterprise's side

async function getLink(db: Db, coreEnterpriseId: string, linkId: string): Promise<DealerLink> {
  if (!isUuid(linkId)) throw linkNotFound();
  const row = await linkQuery(db).where("l.id", "=", linkId).where("l.core_enterprise_id", "=", coreEnterpriseId).executeTakeFirst();
  if (!row) throw linkNotFound();
  return toLink(row);
}

async function lockLink(trx: Db, coreEnterpriseId: string, linkId: string): Promise<DealerLink> {
  if (!isUuid(linkId)) throw linkNotFound();
  const locked = await trx
    .selectFrom("dealer_links")
    .select("id")
    .where("id", "=", linkId)
    .where("core_enterprise_id", "=", coreEnterpriseId)
    .forUpdate()
    .executeTakeFirst();
  if (!locked) throw linkNotFound();
  return getLink(trx, coreEnterpriseId, linkId);
}

/** One dealer of this core enterprise's network, with its credit from the ledger. */
export async function getDealerLink(db: Db, coreEnterpriseId: string, linkId: string): Promise<DealerLinkWithCredit> {
  return withCredit(db, await getLink(db, coreEnterpriseId, linkId));
}

/**
 * For the orders module: the link an order between these two may be placed on, or null when the
 * dealer is not in the network, or is suspended, or either organisation is suspended.
 */
export async function findActiveDealerLink(db: Db, coreEnterpriseId: string, dealerId: string): Promise<DealerLink | null> {
  return (await findActiveDealerLinks(db, [{ coreEnterpriseId, dealerId }])).get(dealerLinkKey(coreEnterpriseId, dealerId)) ?? null;
}

export function dealerLinkKey(coreEnterpriseId: string, dealerId: string): string {
  return `${coreEnterpriseId.toLowerCase()}:${dealerId.toLowerCase()}`;
}

/**
 * The active links (both organisations active too) of several core enterprise and dealer pairs in
 * one query, keyed by `dealerLinkKey`; a pair without one is absent.
 */
export async function findActiveDealerLinks(
  db: Db,
  pairs: readonly { coreEnterpriseId: string; dealerId: string }[],
): Promise<Map<string, DealerLink>> {
  const query = activeDealerLinksQuery(db, pairs);
  return dealerLinksByPair(query ? await query.execute() : []);
}

/** The query of `findActiveDealerLinks`; null when no pair can match. */
export function activeDealerLinksQuery(db: Db, pairs: readonly { coreEnterpriseId: string; dealerId: string }[]) {
  const valid = pairs.filter((p) => isUuid(p.coreEnterpriseId) && isUuid(p.dealerId));
  if (valid.length === 0) return null;
  return linkQuery(db)
    .innerJoin("organizations as c", "c.id", "l.core_enterprise_id")
    .where(
      sql<boolean>`(l.core_enterprise_id, l.dealer_id) in (select * from unnest(${valid.map((p) => p.coreEnterpriseId)}::uuid[], ${valid.map((p) => p.dealerId)}::uuid[]))`,
    )
    .where("l.status", "=", "active")
    .where("c.status", "=", "active")
    .where("d.status", "=", "active");
}

/** The rows of `activeDealerLinksQuery`, as read directly or through JSON, keyed by `dealerLinkKey`. */
export function dealerLinksByPair(rows: readonly (LinkRow | JsonRow)[]): Map<string, DealerLink> {
  const result = new Map<string, DealerLink>();
  for (const raw of rows) {
    const row = { ...(raw as LinkRow), created_at: jsonInstant(raw.created_at), updated_at: jsonInstant(raw.updated_at) };
    result.set(dealerLinkKey(row.core_enterprise_id, row.dealer_id), toLink(row));
  }
  return result;
}

export interface ListDealerLinksOptions {
  search?: string | null;
  status?: DealerLinkStatus | null;
  tierId?: string | null;
  after?: string | null;
  limit?: number;
}

/**
 * The network, by dealer name (keyset pages of at most 100), each with its credit figures read
 * from the ledger — one small indexed query per dealer shown, never a copy of the limit.
 */
export async function listDealerLinks(
  db: Db,
  coreEnterpriseId: string,
  options: ListDealerLinksOptions = {},
): Promise<{ items: DealerLinkWithCredit[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? DEALER_LIMITS.pageSizeDefault), 1), DEALER_LIMITS.pageSizeMax);
  let query = linkQuery(db).where("l.core_enterprise_id", "=", coreEnterpriseId);
  if (options.status) query = query.where("l.status", "=", options.status);
  if (options.tierId) query = isUuid(options.tierId) ? query.where("l.tier_id", "=", options.tierId) : query.where(sql<boolean>`false`);
  const search = options.search?.normalize("NFKC").trim().slice(0, 100);
  if (search) {
    const fragment = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where((eb) =>
      eb.or([eb("d.name", "ilike", fragment), eb("d.name_en", "ilike", fragment), eb("l.region", "ilike", fragment), eb("d.uscc", "=", search.toUpperCase())]),
    );
  }
  if (options.after) {
    const [name, id] = decodeCursor(options.after, ["text", "uuid"])!;
    query = query.where(sql<boolean>`(d.name, l.id) > (${name}, ${id}::uuid)`);
  }
  const rows = await query.orderBy("d.name").orderBy("l.id").limit(limit + 1).execute();
  const page = rows.slice(0, limit).map(toLink);
  const items: DealerLinkWithCredit[] = [];
  for (const link of page) items.push(await withCredit(db, link));
  const last = page[page.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor([last.dealerName, last.id]) : null };
}

/** Every dealer of the network as {link id, dealer id, name}: for pickers (preview, overrides). */
export async function listDealerOptions(db: Db, coreEnterpriseId: string): Promise<{ linkId: string; dealerId: string; name: string; status: DealerLinkStatus }[]> {
  const rows = await db
    .selectFrom("dealer_links as l")
    .innerJoin("organizations as d", "d.id", "l.dealer_id")
    .select(["l.id", "l.dealer_id", "d.name", "l.status"])
    .where("l.core_enterprise_id", "=", coreEnterpriseId)
    .orderBy("d.name")
    .limit(500)
    .execute();
  return rows.map((r) => ({ linkId: r.id, dealerId: r.dealer_id, name: r.name, status: r.status }));
}

export async function countDealerLinks(db: Db, coreEnterpriseId: string): Promise<{ total: number; active: number }> {
  const row = await db
    .selectFrom("dealer_links")
    .select((eb) => [eb.fn.countAll<number>().as("total"), eb.fn.count<number>("id").filterWhere("status", "=", "active").as("active")])
    .where("core_enterprise_id", "=", coreEnterpriseId)
    .executeTakeFirstOrThrow();
  return { total: Number(row.total), active: Number(row.active) };
}

// ---------------------------------------------------------------------------------------------
// Reading: the dealer's side

export interface SupplierLink {
  linkId: string;
  coreEnterpriseId: string;
  coreName: string;
  coreNameEn: string | null;
  tierName: string | null;
  region: string;
  paymentTermsDays: number;
  status: DealerLinkStatus;
  credit: CreditSummary;
}

function supplierQuery(db: Db) {
  return db
    .selectFrom("dealer_links as l")
    .innerJoin("organizations as c", "c.id", "l.core_enterprise_id")
    .leftJoin("dealer_tiers as t", "t.id", "l.tier_id")
    .select(["l.id", "l.core_enterprise_id", "c.name", "c.name_en", "t.name as tier_name", "l.region", "l.payment_terms_days", "l.status"]);
}

type SupplierRow = Awaited<ReturnType<ReturnType<typeof supplierQuery>["executeTakeFirstOrThrow"]>>;

async function toSupplier(db: Db, r: SupplierRow): Promise<SupplierLink> {
  return {
    linkId: r.id,
    coreEnterpriseId: r.core_enterprise_id,
    coreName: r.name,
    coreNameEn: r.name_en,
    tierName: r.tier_name,
    region: r.region,
    paymentTermsDays: r.payment_terms_days,
    status: r.status,
    credit: await creditSummary(db, r.id),
  };
}

/** The core enterprises a dealer buys from (a dealer has a handful, never thousands: capped at 100). */
export async function listSuppliersForDealer(db: Db, dealerId: string): Promise<SupplierLink[]> {
  const rows = await supplierQuery(db).where("l.dealer_id", "=", dealerId).orderBy("c.name").limit(100).execute();
  const result: SupplierLink[] = [];
  for (const row of rows) result.push(await toSupplier(db, row));
  return result;
}

/** The dealer's link to one core enterprise; not linked (or another tenant's view) → not found. */
export async function getSupplierForDealer(db: Db, dealerId: string, coreEnterpriseId: string): Promise<SupplierLink> {
  if (!isUuid(coreEnterpriseId)) throw new DomainError("not_found", "Supplier not found");
  const row = await supplierQuery(db).where("l.dealer_id", "=", dealerId).where("l.core_enterprise_id", "=", coreEnterpriseId).executeTakeFirst();
  if (!row) throw new DomainError("not_found", "Supplier not found");
  return toSupplier(db, row);
}

/** What happened to a link (created, terms, limit, status, overrides), newest first, from the audit trail. */
export async function listDealerLinkHistory(
  db: Db,
  coreEnterpriseId: string,
  linkId: string,
  limit = 20,
): Promise<{ id: number; at: Date; action: string; actor: string | null; after: unknown }[]> {
  const link = await getLink(db, coreEnterpriseId, linkId);
  const rows = await db
    .selectFrom("audit_events as a")
    .leftJoin("users as u", "u.id", "a.actor_user_id")
    .select(["a.id", "a.at", "a.action", "u.display_name", "a.after"])
    .where("a.entity_type", "=", "dealer_link")
    .where("a.entity_id", "=", link.id)
    .where("a.organization_id", "=", coreEnterpriseId)
    .orderBy("a.id", "desc")
    .limit(Math.min(Math.max(limit, 1), 100))
    .execute();
  return rows.map((r) => ({ id: Number(r.id), at: r.at, action: r.action, actor: r.display_name, after: r.after }));
}
