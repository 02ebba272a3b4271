import { inTransaction, type Db } from "../../../../db";
import type { DisputeParty } from "../../../../db/schema";
import { recordAudits, type Actor, DomainError, isUuid } from "../../shared";
import { formatFen } from "../../../i18n";
import { requestNotification, requestNotifications } from "../../notifications";
import type { Trx } from "../../outbox";
import { ESCROW_LIMITS, rulingInputSchema, statementInputSchema, type EvidenceInput, type RulingInput } from "./model.server";
import { lockOrder, lockOrderFor, organizationName, parse, resolveHolds, transitionOrRefuse, writeTimeline, type Resolution } from "./internal.server";

// ---------------------------------------------------------------------------------------------
// Disputes
/** Content types evidence may have, recognised by their first bytes (the name can lie). */
function sniffEvidence(bytes: Uint8Array): "image/png" | "image/jpeg" | "application/pdf" | null {
  const starts = (sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png";
  if (starts([0xff, 0xd8, 0xff])) return "image/jpeg";
  if (starts([0x25, 0x50, 0x44, 0x46, 0x2d])) return "application/pdf";
  return null;
}

function checkEvidence(evidence: EvidenceInput | null | undefined): { filename: string; contentType: string; bytes: Buffer } | null {
  if (!evidence || evidence.bytes.byteLength === 0) return null;
  if (evidence.bytes.byteLength > ESCROW_LIMITS.evidenceBytes) {
    throw new DomainError("validation", "evidence: at most 2 MiB", { evidence: "larger than 2 MiB" });
  }
  const contentType = sniffEvidence(evidence.bytes);
  if (!contentType) throw new DomainError("validation", "evidence: a PNG or JPEG photo or a PDF", { evidence: "not a PNG, JPEG or PDF" });
  // Control characters and path separators out: the name is shown and sent back in a header.
  const filename =
    [...evidence.filename]
      .filter((c) => c.charCodeAt(0) > 0x1f && c.charCodeAt(0) !== 0x7f && c !== "/" && c !== "\\")
      .join("")
      .trim()
      .slice(0, 200) || "evidence";
  return { filename, contentType, bytes: Buffer.from(evidence.bytes) };
}
/** The buyer disputes an order before it is settled: the timer stops, the hold stays until ruled. */
export async function openDispute(
  db: Db,
  actor: Actor,
  buyerId: string,
  orderId: string,
  raw: { statement: string; evidence?: EvidenceInput | null },
  now: Date,
): Promise<{ disputeId: string }> {
  const { body } = parse(statementInputSchema, { body: raw.statement });
  const evidence = checkEvidence(raw.evidence);
  return inTransaction(db, async (trx) => {
    const order = await lockOrderFor(trx, orderId, buyerId, "buyer");
    const t = transitionOrRefuse(order, "dispute", "buyer");
    const dispute = await trx
      .insertInto("market_disputes")
      .values({
        order_id: order.id,
        market_id: order.market_id,
        operator_id: order.operator_id,
        buyer_id: order.buyer_id,
        merchant_id: order.merchant_id,
        opened_from_status: order.status as "paid" | "shipped" | "received",
        opened_at: now,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    await insertStatement(trx, actor, dispute.id, "buyer", buyerId, body, evidence, now);
    await trx.updateTable("market_orders").set({ status: t.to, auto_confirm_at: null, updated_at: now }).where("id", "=", order.id).execute();
    await writeTimeline(trx, actor, [{ orderId: order.id, event: "dispute", from: order.status, to: t.to, note: body.slice(0, 200) }], now);
    const buyerName = await organizationName(trx, order.buyer_id);
    for (const organizationId of [order.merchant_id, order.operator_id]) {
      await requestNotification(trx, actor, {
        organizationId,
        topic: "market_order.disputed",
        params: { orderId: order.id, number: order.order_no, counterparty: buyerName },
        dedupeKey: `market_order.disputed:${order.id}:${organizationId}`,
      });
    }
    return { disputeId: dispute.id };
  });
}

async function insertStatement(
  trx: Trx,
  actor: Actor,
  disputeId: string,
  party: DisputeParty,
  organizationId: string,
  body: string,
  evidence: ReturnType<typeof checkEvidence>,
  now: Date,
): Promise<string> {
  const row = await trx
    .insertInto("market_dispute_statements")
    .values({
      dispute_id: disputeId,
      party,
      organization_id: organizationId,
      author_user_id: actor.userId,
      body,
      evidence_filename: evidence?.filename ?? null,
      evidence_content_type: evidence?.contentType ?? null,
      evidence_bytes: evidence?.bytes ?? null,
      created_at: now,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  await recordAudits(trx, actor, [
    { action: "market_dispute.statement", entityType: "market_dispute", entityId: disputeId, after: { party, statement_id: row.id, evidence: evidence?.filename ?? null } },
  ]);
  return row.id;
}

async function lockDispute(trx: Trx, disputeId: string) {
  if (!isUuid(disputeId)) throw new DomainError("not_found", "dispute not found");
  const row = await trx.selectFrom("market_disputes").selectAll().where("id", "=", disputeId).forUpdate().executeTakeFirst();
  if (!row) throw new DomainError("not_found", "dispute not found");
  return row;
}

/** A statement (and evidence) from a party of an open dispute: the buyer, the merchant or the operator. */
export async function addDisputeStatement(
  db: Db,
  actor: Actor,
  organizationId: string,
  disputeId: string,
  raw: { body: string; evidence?: EvidenceInput | null },
  now: Date,
): Promise<{ statementId: string }> {
  const { body } = parse(statementInputSchema, { body: raw.body });
  const evidence = checkEvidence(raw.evidence);
  return inTransaction(db, async (trx) => {
    const dispute = await lockDispute(trx, disputeId);
    const party: DisputeParty | null =
      dispute.buyer_id === organizationId ? "buyer" : dispute.merchant_id === organizationId ? "merchant" : dispute.operator_id === organizationId ? "operator" : null;
    if (!party) throw new DomainError("not_found", "dispute not found");
    if (dispute.status !== "open") throw new DomainError("invalid_state", "the dispute has been ruled", { status: "ruled" });
    return { statementId: await insertStatement(trx, actor, dispute.id, party, organizationId, body, evidence, now) };
  });
}

/**
 * The operator's ruling: release (the merchant is paid, less commission), refund_full (the hold
 * voided, the units back on sale) or refund_partial (refundFen back to the buyer, the rest released
 * with its pro-rata commission). refund + net + commission = the goods total, exactly (E1).
 */
export async function ruleDispute(db: Db, actor: Actor, operatorId: string, disputeId: string, raw: RulingInput, now: Date): Promise<void> {
  const input = parse(rulingInputSchema, raw);
  await inTransaction(db, async (trx) => {
    const dispute = await lockDispute(trx, disputeId);
    if (dispute.operator_id !== operatorId) throw new DomainError("not_found", "dispute not found");
    if (dispute.status !== "open") throw new DomainError("invalid_state", "the dispute has been ruled", { status: "ruled" });
    const order = await lockOrder(trx, dispute.order_id);
    const totalFen = order.goods_total_fen;
    let refundFen: number;
    if (input.ruling === "release") refundFen = 0;
    else if (input.ruling === "refund_full") refundFen = totalFen;
    else {
      refundFen = input.refundFen ?? 0;
      if (refundFen <= 0 || refundFen >= totalFen) {
        throw new DomainError("validation", `refundFen: a partial refund is more than 0 and less than the order's ${totalFen} fen`, {
          refundFen: `must be between 1 and ${totalFen - 1} fen`,
        });
      }
    }
    const event: Resolution["event"] = `rule_${input.ruling}`;
    const t = transitionOrRefuse(order, event, "operator");
    await resolveHolds(trx, actor, [{ order, event, to: t.to, refundFen, note: input.reason }], now);
    await trx
      .updateTable("market_disputes")
      .set({ status: "ruled", ruling: input.ruling, refund_fen: refundFen, ruling_reason: input.reason, ruled_by: actor.userId, ruled_at: now })
      .where("id", "=", dispute.id)
      .execute();
    // The ruling ends the order for both sides: each hears it once (the dedupe key per party).
    await requestNotifications(
      trx,
      [order.buyer_id, order.merchant_id].map((organizationId) => ({
        actor,
        notification: {
          organizationId,
          topic: "market_dispute.ruled" as const,
          params: { orderId: order.id, disputeId: dispute.id, number: order.order_no, ruling: input.ruling, refundDisplay: formatFen(refundFen) },
          dedupeKey: `market_dispute.ruled:${dispute.id}:${organizationId}`,
        },
      })),
    );
  });
}
