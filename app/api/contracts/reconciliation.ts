import { z } from "zod";
import { RECONCILE_MISMATCH_KINDS } from "../../../db/schema";
import type { MismatchView, StatementDaySummary } from "../../domain/settlement";
import { defineEndpoint } from "../endpoint";
import { businessDate, fen, isoTimestamp } from "../schemas";

/**
 * Reconciliation (issue 15, decision 027), for the bank: the gateway's daily statements as
 * imported, with their mismatch counts, and one day's mismatches. Resolving is done on the page,
 * where the note is written.
 */

const TAGS = ["settlement"] as const;
const LINE_TYPES = ["payment.succeeded", "refund.succeeded", "payout.succeeded"] as const;

const countsSchema = z.object(Object.fromEntries(RECONCILE_MISMATCH_KINDS.map((k) => [k, z.number().int()])) as Record<(typeof RECONCILE_MISMATCH_KINDS)[number], z.ZodNumber>);

export const statementDaySchema = z.object({
  date: businessDate,
  line_count: z.number().int(),
  gross_fen: fen,
  fee_fen: fen.describe("The gateway's charges that day, booked gateway_fees → gateway_clearing"),
  imported_at: isoTimestamp,
  closed_at: isoTimestamp.nullable().describe("Set when nothing of the day is open"),
  open: z.number().int(),
  resolved: z.number().int(),
  by_kind: countsSchema.describe("Mismatches by kind, open and resolved (a day-late line is counted on the later day only)"),
});

export const mismatchSchema = z.object({
  id: z.string(),
  kind: z.enum(RECONCILE_MISMATCH_KINDS).describe("missing_ours: the gateway has it, we do not; missing_theirs: we have it, the gateway does not; amount_differs; duplicate; late: on the next day's statement"),
  type: z.enum(LINE_TYPES),
  merchant_reference: z.string().describe("Our payment id, refund id or payout reference"),
  gateway_id: z.string().nullable(),
  theirs_fen: fen.nullable(),
  ours_fen: fen.nullable(),
  theirs_lines: z.number().int(),
  ours_at: isoTimestamp.nullable(),
  ledger_transfer_id: z.string().nullable(),
  status: z.enum(["open", "resolved"]),
  note: z.string().nullable(),
  resolved_at: isoTimestamp.nullable(),
});

export function statementDayJson(d: StatementDaySummary): z.input<typeof statementDaySchema> {
  return {
    date: d.date,
    line_count: d.lineCount,
    gross_fen: d.grossFen,
    fee_fen: d.feeFen,
    imported_at: d.importedAt.toISOString(),
    closed_at: d.closedAt?.toISOString() ?? null,
    open: d.open,
    resolved: d.resolved,
    by_kind: d.byKind,
  };
}

export function mismatchJson(m: MismatchView): z.input<typeof mismatchSchema> {
  return {
    id: m.id,
    kind: m.kind,
    type: m.lineType,
    merchant_reference: m.merchantReference,
    gateway_id: m.gatewayId,
    theirs_fen: m.theirsFen,
    ours_fen: m.oursFen,
    theirs_lines: m.theirsLines,
    ours_at: m.oursAt?.toISOString() ?? null,
    ledger_transfer_id: m.ledgerTransferId,
    status: m.status === "resolved" ? "resolved" : "open",
    note: m.note,
    resolved_at: m.resolvedAt?.toISOString() ?? null,
  };
}

export const listStatementDays = defineEndpoint({
  method: "GET",
  path: "/api/v1/settlement/statement-days",
  operationId: "listStatementDays",
  summary: "The gateway's statement days as imported, newest first, with their mismatch counts (the bank)",
  tags: TAGS,
  auth: "required",
  orgKinds: ["bank"],
  action: "reconciliation.view",
  query: z.object({ limit: z.coerce.number().int().min(1).max(100).optional().describe("Days to return, 1–100 (default 30)") }),
  response: z.object({ data: z.array(statementDaySchema) }),
});

export const getStatementDay = defineEndpoint({
  method: "GET",
  path: "/api/v1/settlement/statement-days/{date}",
  operationId: "getStatementDay",
  summary: "One statement day and its mismatches (the bank); 404 when the day was not imported",
  tags: TAGS,
  auth: "required",
  orgKinds: ["bank"],
  action: "reconciliation.view",
  params: z.object({ date: businessDate }),
  response: z.object({ day: statementDaySchema, mismatches: z.array(mismatchSchema) }),
});

export const endpoints = [listStatementDays, getStatementDay];
