import { sql } from "kysely";
import { z } from "zod";
import { inTransaction, type Db } from "../../../db";
import { ANNOUNCEMENT_AUDIENCES, type AnnouncementAudience } from "../../../db/schema";
import { recordAudit, type Actor, DomainError, decodeCursor, encodeCursor, isUuid } from "../shared";
import { requestNotification } from "../notifications";
import { getMarket, parseOrRefuse } from "./venues.server";

/**
 * A market operator's announcements (公告): published to one market for everyone, its merchants
 * or its buyers. Published is final: no edit, no delete (a correction is a new announcement), so
 * what a merchant read stays what was published; every publication writes an audit event.
 *
 * Who reads what:
 *  - the operator: every announcement of its own markets (another operator's market → not_found);
 *  - a merchant: audience `all` or `merchants`, of the markets it is a member of (market_merchants,
 *    whatever its status there: a suspended merchant still needs the market's notices);
 *  - a buyer: audience `all` or `buyers`, of every active market (any buyer may shop in any).
 *
 * Lists are newest first, in keyset pages: the cursor is the last row's (published_at, id), with
 * the timestamp written by PostgreSQL to the microsecond so no row is skipped or repeated.
 */

export { ANNOUNCEMENT_AUDIENCES, type AnnouncementAudience };

export const ANNOUNCEMENT_LIMITS = {
  titleLength: 100,
  bodyLength: 5_000,
  pageSizeDefault: 20,
  pageSizeMax: 100,
  /** Per market and rolling 24 hours: more is a script gone wrong, not news. */
  perMarketPerDayMax: 50,
} as const;

export interface Announcement {
  id: string;
  marketId: string;
  marketName: string;
  title: string;
  body: string;
  audience: AnnouncementAudience;
  publishedAt: Date;
  /** The publishing user's display name (the operator's view only; null for an API key). */
  publishedByName: string | null;
}

export interface AnnouncementPage {
  items: Announcement[];
  /** Pass as `after` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

// ---------------------------------------------------------------------------------------------
// Input: one schema for the page's form and the API body; messages are problem codes.

/** Text as typed, trimmed; line breaks kept (a body is paragraphs), Windows line ends made \n. */
const announcementText = (max: number) =>
  z
    .string({ required_error: "required", invalid_type_error: "required" })
    .transform((v) => v.replace(/\r\n?/g, "\n").trim())
    .pipe(z.string().min(1, "required").max(max, "too_long"));

export const announcementFormSchema = z.object({
  // A title is one line: any line break in it becomes a space.
  title: announcementText(ANNOUNCEMENT_LIMITS.titleLength).transform((v) => v.replace(/\s*\n\s*/g, " ")),
  body: announcementText(ANNOUNCEMENT_LIMITS.bodyLength),
  audience: z.enum(ANNOUNCEMENT_AUDIENCES, {
    errorMap: (issue) => ({ message: issue.code === "invalid_type" ? "required" : "unknown_audience" }),
  }),
});
export type AnnouncementInput = z.input<typeof announcementFormSchema>;
export const ANNOUNCEMENT_FORM_FIELDS = ["title", "body", "audience"] as const;

// ---------------------------------------------------------------------------------------------
// Reading

function parseAnnouncementCursor(after: string | null | undefined): { at: string; id: string } | null {
  const parts = decodeCursor(after, ["timestamp", "uuid"]);
  return parts ? { at: parts[0], id: parts[1] } : null;
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return ANNOUNCEMENT_LIMITS.pageSizeDefault;
  return Math.min(Math.max(Math.trunc(limit), 1), ANNOUNCEMENT_LIMITS.pageSizeMax);
}

function announcementQuery(db: Db) {
  return db
    .selectFrom("market_announcements as a")
    .innerJoin("markets as m", "m.id", "a.market_id")
    .leftJoin("users as u", "u.id", "a.published_by")
    .select([
      "a.id",
      "a.market_id",
      "m.name as market_name",
      "a.title",
      "a.body",
      "a.audience",
      "a.published_at",
      "u.display_name as published_by_name",
      sql<string>`to_char(a.published_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as("cursor_at"),
    ]);
}
type AnnouncementQuery = ReturnType<typeof announcementQuery>;
type AnnouncementRow = Awaited<ReturnType<AnnouncementQuery["executeTakeFirstOrThrow"]>>;

function toAnnouncement(r: AnnouncementRow, withAuthor: boolean): Announcement {
  return {
    id: r.id,
    marketId: r.market_id,
    marketName: r.market_name,
    title: r.title,
    body: r.body,
    audience: r.audience,
    publishedAt: r.published_at,
    publishedByName: withAuthor ? r.published_by_name : null,
  };
}

async function page(query: AnnouncementQuery, options: { limit?: number; after?: string | null }, withAuthor: boolean): Promise<AnnouncementPage> {
  const limit = clampLimit(options.limit);
  const after = parseAnnouncementCursor(options.after);
  let q = query;
  if (after) q = q.where(sql<boolean>`(a.published_at, a.id) < (${after.at}::timestamptz, ${after.id}::uuid)`);
  const rows = await q
    .orderBy("a.published_at", "desc")
    .orderBy("a.id", "desc")
    .limit(limit + 1)
    .execute();
  const shown = rows.slice(0, limit);
  const last = shown[shown.length - 1];
  return {
    items: shown.map((r) => toAnnouncement(r, withAuthor)),
    nextCursor: rows.length > limit && last ? encodeCursor([last.cursor_at, last.id]) : null,
  };
}

/** The operator's announcements of one of its markets, newest first. */
export async function listAnnouncementsForOperator(
  db: Db,
  operatorId: string,
  marketId: string,
  options: { limit?: number; after?: string | null } = {}
): Promise<AnnouncementPage> {
  const market = await getMarket(db, operatorId, marketId);
  const query = announcementQuery(db).where("a.market_id", "=", market.id).where("a.operator_id", "=", operatorId);
  return page(query, options, true);
}

/**
 * What a merchant or a buyer organisation reads, newest first, across markets (see the rules at
 * the top). The caller decides `kind` from the acting organisation.
 */
export async function listAnnouncementsForParty(
  db: Db,
  organizationId: string,
  kind: "merchant" | "buyer",
  options: { limit?: number; after?: string | null } = {}
): Promise<AnnouncementPage> {
  if (!isUuid(organizationId)) return { items: [], nextCursor: null };
  let query = announcementQuery(db);
  if (kind === "merchant") {
    query = query
      .where("a.audience", "in", ["all", "merchants"])
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom("market_merchants as mm")
            .select("mm.id")
            .whereRef("mm.market_id", "=", "a.market_id")
            .where("mm.merchant_id", "=", organizationId)
        )
      );
  } else {
    query = query.where("a.audience", "in", ["all", "buyers"]).where("m.status", "=", "active");
  }
  return page(query, options, false);
}

// ---------------------------------------------------------------------------------------------
// Publishing

/**
 * Publish an announcement to one of the operator's markets, with an audit event, in one
 * transaction. Bad input → `validation` naming each field (nothing written); another operator's
 * market → `not_found`; more than 50 in 24 hours to one market → `rate_limited`.
 */
export async function publishAnnouncement(db: Db, actor: Actor, operatorId: string, marketId: string, raw: AnnouncementInput): Promise<Announcement> {
  const input = parseOrRefuse(announcementFormSchema, raw, "Announcement");
  return inTransaction(db, async (trx) => {
    // The market row's lock serialises publications to it, so the daily limit cannot be raced.
    if (!isUuid(marketId)) throw new DomainError("not_found", "Market not found");
    const locked = await trx
      .selectFrom("markets")
      .select("id")
      .where("id", "=", marketId)
      .where("operator_id", "=", operatorId)
      .forUpdate()
      .executeTakeFirst();
    if (!locked) throw new DomainError("not_found", "Market not found");
    const market = await getMarket(trx, operatorId, locked.id);
    const recent = await trx
      .selectFrom("market_announcements")
      .select(sql<number>`count(*)`.as("n"))
      .where("market_id", "=", market.id)
      .where("published_at", ">", sql<Date>`now() - interval '24 hours'`)
      .executeTakeFirstOrThrow();
    if (Number(recent.n) >= ANNOUNCEMENT_LIMITS.perMarketPerDayMax) {
      throw new DomainError("rate_limited", `At most ${ANNOUNCEMENT_LIMITS.perMarketPerDayMax} announcements a day to one market`);
    }
    const row = await trx
      .insertInto("market_announcements")
      .values({
        market_id: market.id,
        operator_id: operatorId,
        title: input.title,
        body: input.body,
        audience: input.audience,
        published_by: actor.userId,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    await recordAudit(trx, actor, {
      action: "market_announcement.published",
      entityType: "market_announcement",
      entityId: row.id,
      organizationId: operatorId,
      after: { market_id: market.id, title: input.title, audience: input.audience, body_chars: input.body.length },
    });
    // The market's merchants hear of it in their inbox (buyers read the market's announcement page).
    if (input.audience !== "buyers") {
      const merchants = await trx.selectFrom("market_merchants").select("merchant_id").where("market_id", "=", market.id).where("status", "=", "active").execute();
      for (const m of merchants) {
        await requestNotification(trx, actor, {
          organizationId: m.merchant_id,
          topic: "market.announcement_published",
          params: { announcementId: row.id, marketName: market.name.slice(0, 100), title: input.title.slice(0, 100) },
          dedupeKey: `market.announcement:${row.id}:${m.merchant_id}`,
        });
      }
    }
    const created = await announcementQuery(trx).where("a.id", "=", row.id).executeTakeFirstOrThrow();
    return toAnnouncement(created, true);
  });
}
