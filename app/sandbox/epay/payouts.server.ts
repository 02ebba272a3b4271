import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Db } from "../../../db";
import { payoutRequestSchema, type PayoutResponse } from "../../domain/payments";
import { parseJsonBody, SandboxHttpError, type SandboxConfig, type SandboxDeps } from "./sandbox.server";

/**
 * The sandbox gateway's payouts: money it sends from the platform to a bank account. Like a real
 * gateway it is idempotent on the merchant payout reference (the same reference with another
 * amount or account is a 409), and it answers with the outcome at once. It refuses accounts whose
 * number ends in 0000 with "account closed", the way a gateway's sandbox keeps magic test numbers,
 * so the failure path can be shown and tested without directives.
 *
 * The rows double as the receiving bank's statement: `sandboxBankStatement` lists what arrived on
 * an account number, which is how an organisation "looks at its bank statement" to read the
 * verification deposit. That page is reached by a link signed with the gateway secret, so only the
 * people our side shows the link to (the account's owners) can read it.
 */

export const SANDBOX_PAYOUT_LIMITS = {
  /** Lines on one account's statement page. */
  statementLinesMax: 50,
} as const;

/** Sandbox magic: an account number ending in these digits is a closed account. */
const CLOSED_ACCOUNT_SUFFIX = "0000";
/**
 * Sandbox magic: an amount of at least 1 yuan ending in 13 fen finds the account frozen, so a
 * payout to an account that passed its verification can still be refused. Verification deposits
 * (1–99 fen) are never caught by it.
 */
const FROZEN_AMOUNT_FEN_MOD100 = 13;
const FROZEN_AMOUNT_FEN_MIN = 100;

export async function sandboxPayout(deps: SandboxDeps, rawBody: string): Promise<{ status: 200 | 201; body: PayoutResponse }> {
  const input = parseJsonBody(rawBody, payoutRequestSchema);
  const closed = input.account_number.endsWith(CLOSED_ACCOUNT_SUFFIX);
  const frozen = !closed && input.amount_fen >= FROZEN_AMOUNT_FEN_MIN && input.amount_fen % 100 === FROZEN_AMOUNT_FEN_MOD100;
  const inserted = await deps.db
    .insertInto("sandbox_epay_payouts")
    .values({
      gateway_payout_id: `po_${randomBytes(12).toString("hex")}`,
      merchant_id: deps.config.merchantId,
      merchant_payout_reference: input.merchant_payout_reference,
      amount_fen: input.amount_fen,
      currency: input.currency,
      bank_name: input.bank_name,
      account_number: input.account_number,
      account_name: input.account_name,
      remark: input.remark,
      status: closed || frozen ? "failed" : "succeeded",
      failure_reason: closed ? "account closed (收款账户已销户)" : frozen ? "account frozen (收款账户已冻结)" : null,
    })
    .onConflict((oc) => oc.columns(["merchant_id", "merchant_payout_reference"]).doNothing())
    .returningAll()
    .executeTakeFirst();
  const row =
    inserted ??
    (await deps.db
      .selectFrom("sandbox_epay_payouts")
      .selectAll()
      .where("merchant_id", "=", deps.config.merchantId)
      .where("merchant_payout_reference", "=", input.merchant_payout_reference)
      .executeTakeFirstOrThrow());
  if (Number(row.amount_fen) !== input.amount_fen || row.account_number !== input.account_number) {
    throw new SandboxHttpError(409, "merchant_payout_reference_conflict", "merchant_payout_reference was used for another amount or account", {
      merchant_payout_reference: "already used",
    });
  }
  return {
    status: inserted ? 201 : 200,
    body: {
      gateway_payout_id: row.gateway_payout_id,
      merchant_payout_reference: row.merchant_payout_reference,
      amount_fen: Number(row.amount_fen),
      status: row.status,
      failure_reason: row.failure_reason,
      created_at: row.created_at.toISOString(),
    },
  };
}

/** The token that opens one account's sandbox bank statement. */
export function bankStatementToken(config: Pick<SandboxConfig, "secret">, accountNumber: string): string {
  return createHmac("sha256", config.secret).update(`bank-statement:${accountNumber}`).digest("hex");
}

export function bankStatementTokenValid(config: Pick<SandboxConfig, "secret">, accountNumber: string, token: string): boolean {
  const expected = Buffer.from(bankStatementToken(config, accountNumber), "hex");
  const given = Buffer.from(/^[0-9a-f]{64}$/.test(token) ? token : "", "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The address of one account's statement page, under the sandbox's base URL. */
export function bankStatementUrl(config: Pick<SandboxConfig, "secret" | "baseUrl">, accountNumber: string): string {
  return `${config.baseUrl.replace(/\/+$/, "")}/bank-statement/${encodeURIComponent(accountNumber)}?t=${bankStatementToken(config, accountNumber)}`;
}

export interface BankStatementLine {
  gatewayPayoutId: string;
  amountFen: number;
  accountName: string;
  bankName: string;
  remark: string;
  status: "succeeded" | "failed";
  failureReason: string | null;
  at: Date;
}

/** What arrived on (or was refused by) an account number, newest first. */
export async function sandboxBankStatement(db: Db, accountNumber: string): Promise<BankStatementLine[]> {
  if (!/^[0-9]{8,30}$/.test(accountNumber)) return [];
  const rows = await db
    .selectFrom("sandbox_epay_payouts")
    .select(["gateway_payout_id", "amount_fen", "account_name", "bank_name", "remark", "status", "failure_reason", "created_at"])
    .where("account_number", "=", accountNumber)
    .orderBy("created_at", "desc")
    .orderBy("gateway_payout_id", "desc")
    .limit(SANDBOX_PAYOUT_LIMITS.statementLinesMax)
    .execute();
  return rows.map((r) => ({
    gatewayPayoutId: r.gateway_payout_id,
    amountFen: Number(r.amount_fen),
    accountName: r.account_name,
    bankName: r.bank_name,
    remark: r.remark,
    status: r.status,
    failureReason: r.failure_reason,
    at: r.created_at,
  }));
}
