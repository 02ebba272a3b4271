import { sql } from "kysely";
import { type Db, inTransaction } from "../../../db";
import { type Actor, recordAudit, DomainError } from "../shared";
import type { Fen } from "../ledger";

/** A dealer's or supplier's order settings: auto-receipt days and the approval threshold. */

// ---------------------------------------------------------------------------------------------
// Settings

export async function getOrderSettings(db: Db, organizationId: string): Promise<{ autoReceiptDays: number; approvalThresholdFen: Fen | null }> {
  const row = await db.selectFrom("order_settings").selectAll().where("organization_id", "=", organizationId).executeTakeFirst();
  return { autoReceiptDays: row?.auto_receipt_days ?? 7, approvalThresholdFen: row?.approval_threshold_fen ?? null };
}

export async function updateOrderSettings(
  db: Db,
  actor: Actor,
  organizationId: string,
  input: { autoReceiptDays?: number; approvalThresholdFen?: Fen | null },
): Promise<void> {
  if (input.autoReceiptDays !== undefined && (!Number.isSafeInteger(input.autoReceiptDays) || input.autoReceiptDays < 1 || input.autoReceiptDays > 60)) {
    throw new DomainError("validation", "Auto-receipt days must be a whole number from 1 to 60", { auto_receipt_days: "1 to 60" });
  }
  if (input.approvalThresholdFen != null && (!Number.isSafeInteger(input.approvalThresholdFen) || input.approvalThresholdFen <= 0)) {
    throw new DomainError("validation", "The approval threshold must be a positive amount (or empty for none)", {
      approval_threshold_fen: "positive amount or empty",
    });
  }
  await inTransaction(db, async (trx) => {
    const before = await getOrderSettings(trx, organizationId);
    const values = {
      organization_id: organizationId,
      auto_receipt_days: input.autoReceiptDays ?? before.autoReceiptDays,
      approval_threshold_fen: input.approvalThresholdFen === undefined ? before.approvalThresholdFen : input.approvalThresholdFen,
    };
    await trx
      .insertInto("order_settings")
      .values(values)
      .onConflict((oc) =>
        oc.column("organization_id").doUpdateSet({
          auto_receipt_days: values.auto_receipt_days,
          approval_threshold_fen: values.approval_threshold_fen,
          updated_at: sql`now()`,
        }),
      )
      .execute();
    await recordAudit(trx, actor, {
      action: "order_settings.updated",
      entityType: "organization",
      entityId: organizationId,
      organizationId,
      before,
      after: { autoReceiptDays: values.auto_receipt_days, approvalThresholdFen: values.approval_threshold_fen },
    });
  });
}
