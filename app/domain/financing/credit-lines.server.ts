import { inTransaction, type Db } from "../../../db";
import { type Actor, DomainError, isUuid, shanghaiDate } from "../shared";
import type { Fen } from "../ledger";
import { requestFinancing } from "../orders";
import { OPEN_LOAN_STATUSES } from "./states";
import { summariseFacilities, type FacilitySummary } from "./facilities.server";
import { openApplication, type ApplicationRow } from "./applications.server";
import { listLoans, type LoanListItem } from "./queries.server";
import type { FacilityRow, LoanProductRow } from "./internal.server";
import { dateText } from "./internal.server";

/**
 * Revolving credit lines (网贷通): the bank grants a small firm a limit on the credit_line product
 * (a `borrower_limit` facility) and the firm draws on it when it likes. A draw is an ordinary loan
 * application of that product through `openApplication`, without a guarantor: it reserves the
 * amount on the line, is approved by the checks below the product's auto-approval limit, and the
 * disbursement step pays the borrower's wallet, or, for a draw that pays an order, the order's
 * supplier. Repaid principal goes back to the line's available part (repayLoan's restoreLimits),
 * which is what makes the line revolve.
 */

export interface CreditLineView {
  facility: FacilitySummary;
  product: LoanProductRow;
  /** The line's validity has passed (a draw would be refused naming `borrower_limit`). */
  expired: boolean;
  /** Draws still owing something, newest first. */
  draws: LoanListItem[];
}

export interface DrawInput {
  /** Required for a draw to the wallet; for a draw that pays an order, omitted or the order's total. */
  amountFen?: Fen | null;
  orderId?: string | null;
}

/**
 * The borrower's line: its limit on an active credit_line product (the newest when the bank has
 * granted more than one). Null when the bank has granted none.
 */
async function lineOf(db: Db, borrowerId: string): Promise<{ facility: FacilityRow; product: LoanProductRow } | null> {
  if (!isUuid(borrowerId)) return null;
  const row = await db
    .selectFrom("financing_facilities as f")
    .innerJoin("loan_products as p", "p.id", "f.product_id")
    .select([
      "f.id",
      "f.kind",
      "f.product_id",
      "f.borrower_organization_id",
      "f.guarantor_organization_id",
      "f.parent_facility_id",
      "f.buy_back_days",
      dateText("f.valid_to").as("valid_to"),
      "f.status",
      "f.approved_by_user_id",
      "f.created_at",
    ])
    .where("f.kind", "=", "borrower_limit")
    .where("f.borrower_organization_id", "=", borrowerId)
    .where("p.kind", "=", "credit_line")
    .where("p.status", "=", "active")
    .orderBy("f.created_at", "desc")
    .limit(1)
    .executeTakeFirst();
  if (!row) return null;
  const product = await db.selectFrom("loan_products").selectAll().where("id", "=", row.product_id!).executeTakeFirstOrThrow();
  return { facility: row as FacilityRow, product };
}

/** The borrower's credit line with limit, used and available from the ledger, and its open draws; null without one. */
export async function creditLineFor(db: Db, borrowerId: string, now: Date): Promise<CreditLineView | null> {
  const line = await lineOf(db, borrowerId);
  if (!line) return null;
  const [facility] = await summariseFacilities(db, [line.facility]);
  const open = await listLoans(db, { kind: "borrower", organizationId: borrowerId }, { statuses: OPEN_LOAN_STATUSES, limit: 200 });
  return {
    facility: facility!,
    product: line.product,
    expired: line.facility.valid_to < shanghaiDate(now),
    draws: open.filter((l) => l.kind === "credit_line"),
  };
}

function noLine(): DomainError {
  return new DomainError("invalid_state", "The bank has not granted this borrower a credit line", { borrower_limit: "no limit on this product" }, { borrower_limit: "missing" });
}

/** The orders context's refusal, named for the draw's `order_id` field (the page shows it there). */
function orderRefusal(error: unknown): unknown {
  if (!(error instanceof DomainError)) return error;
  if (error.code === "not_found") return new DomainError("not_found", "order not found", { order_id: "not found" });
  if (error.code === "invalid_state" || error.code === "forbidden" || error.code === "conflict") {
    return new DomainError("invalid_state", `This order cannot be paid by a draw: ${error.message}`, { order_id: "not a confirmed order awaiting payment" }, { order_id: "not_payable" });
  }
  return error;
}

/**
 * Draw on the borrower's credit line. To the wallet by default; with `orderId`, the draw pays that
 * confirmed order of the borrower (the order moves to awaiting_financing in the same transaction,
 * and the disbursement step pays its supplier and marks it paid). One transaction: a refusal of
 * any check writes nothing, the order included.
 */
export async function drawOnCreditLine(db: Db, actor: Actor, input: DrawInput, now: Date): Promise<ApplicationRow> {
  if (!actor.organizationId) throw new DomainError("forbidden", "An organisation draws on its credit line");
  const borrowerId = actor.organizationId;
  const orderId = input.orderId ?? null;
  const given = input.amountFen ?? null;
  if (given !== null && (!Number.isSafeInteger(given) || given <= 0)) {
    throw new DomainError("validation", "The amount must be a whole number of fen above zero", { amount_fen: "not a whole number of fen above zero" });
  }
  if (orderId === null && given === null) throw new DomainError("validation", "Say how much to draw", { amount_fen: "required" });
  // An id that is no order is the same answer as another borrower's order: not found.
  if (orderId !== null && !isUuid(orderId)) throw new DomainError("not_found", "order not found", { order_id: "not found" });

  return inTransaction(db, async (trx) => {
    let amountFen: Fen;
    // The order first: another borrower's order is not found, whether or not this one has a line.
    if (orderId !== null) {
      const order = await requestFinancing(trx, actor, orderId).catch((error: unknown) => {
        throw orderRefusal(error);
      });
      // Only the borrower's own purchases: a supplier's sale is not what its line pays for.
      if (order.dealer_id !== borrowerId) throw new DomainError("not_found", "order not found", { order_id: "not found" });
      if (given !== null && given !== order.total_fen) {
        throw new DomainError("validation", `A draw that pays order ${order.number} is its total, ${order.total_fen} fen`, { amount_fen: "differs from the order's total" });
      }
      amountFen = order.total_fen;
    } else {
      amountFen = given!;
    }
    const line = await lineOf(trx, borrowerId);
    if (!line) throw noLine();
    return openApplication(trx, actor, { product: line.product, borrowerId, guarantorId: null, orderId, amountFen, now });
  });
}
