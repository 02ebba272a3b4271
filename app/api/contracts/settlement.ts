import { z } from "zod";
import { SETTLEMENT_ACCOUNT_STATUSES } from "../../../db/schema";
import type { SettlementAccountView } from "../../domain/settlement";
import { defineEndpoint } from "../endpoint";
import { isoTimestamp } from "../schemas";

/**
 * Settlement accounts (issue 15): the organisation's bank account (对公账户) that payouts go to,
 * verified by a small random deposit (小额打款验证). The number comes in full only to the owner,
 * admin and finance roles (`account_number` is null for the others; `account_number_masked`
 * always). Registering or changing the account is a POST (the API's verbs are GET and POST), and
 * sending the same details again changes nothing.
 */

const TAGS = ["settlement"] as const;
const KINDS = ["core_enterprise", "dealer", "market_operator", "merchant"] as const;

export const settlementAccountSchema = z.object({
  id: z.string(),
  bank_name: z.string(),
  branch_name: z.string(),
  account_number: z.string().nullable().describe("In full for the owner, admin and finance roles; null for everyone else"),
  account_number_masked: z.string().describe("The last four digits: `**** **** 1234`"),
  account_name: z.string().describe("Always the organisation's registered name"),
  status: z
    .enum(SETTLEMENT_ACCOUNT_STATUSES)
    .describe("pending_deposit: the deposit is not sent yet; awaiting_confirmation: enter its amount; deposit_failed: the bank refused it; verified: payouts may go here"),
  revision: z.number().int().describe("Raised by every change of account"),
  deposit_sent_at: isoTimestamp.nullable(),
  deposit_failure: z.string().nullable(),
  attempts_left: z.number().int().describe("Wrong amounts left before a 24-hour lock"),
  locked_until: isoTimestamp.nullable(),
  verified_at: isoTimestamp.nullable(),
});

export function settlementAccountJson(a: SettlementAccountView): z.input<typeof settlementAccountSchema> {
  return {
    id: a.id,
    bank_name: a.bankName,
    branch_name: a.branchName,
    account_number: a.accountNumber,
    account_number_masked: a.accountNumberMasked,
    account_name: a.accountName,
    status: a.status,
    revision: a.revision,
    deposit_sent_at: a.depositSentAt?.toISOString() ?? null,
    deposit_failure: a.depositFailure,
    attempts_left: a.attemptsLeft,
    locked_until: a.lockedUntil?.toISOString() ?? null,
    verified_at: a.verifiedAt?.toISOString() ?? null,
  };
}

export const getSettlementAccount = defineEndpoint({
  method: "GET",
  path: "/api/v1/settlement-account",
  operationId: "getSettlementAccount",
  summary: "Your organisation's settlement account and where its verification stands (404 when none is registered)",
  tags: TAGS,
  auth: "required",
  orgKinds: KINDS,
  response: settlementAccountSchema,
});

export const putSettlementAccount = defineEndpoint({
  method: "POST",
  path: "/api/v1/settlement-account",
  operationId: "putSettlementAccount",
  summary: "Register or change your settlement account; the platform sends the verification deposit",
  description:
    "`account_name` must equal your organisation's registered name (compared after trimming spaces): otherwise 422 naming " +
    "`account_name`. `account_number` is 8 to 30 digits (spaces allowed). A change replaces the account in force, needs the " +
    "verification again and is audited; the same details again change nothing (`deposit: unchanged`). The deposit (0.01 to " +
    "0.99 yuan) is sent at once through e-Pay: `deposit` says whether it was `sent`, `failed` (the bank refused the account; " +
    "see `deposit_failure`) or is still `unavailable` (the gateway did not answer: POST the same details again later).",
  tags: TAGS,
  auth: "required",
  orgKinds: KINDS,
  action: "settlement_account.write",
  body: z
    .object({
      bank_name: z.string().max(60),
      branch_name: z.string().max(60),
      account_number: z.string().max(60),
      account_name: z.string().max(200),
    })
    .strict(),
  response: z.object({
    account: settlementAccountSchema,
    deposit: z.enum(["sent", "already_sent", "failed", "unavailable", "unchanged"]),
  }),
});

export const verifySettlementAccount = defineEndpoint({
  method: "POST",
  path: "/api/v1/settlement-account/verify",
  operationId: "verifySettlementAccount",
  summary: "Enter the amount of the verification deposit, in fen",
  description:
    "Right: the account is `verified`. Wrong: 422 naming `amount_fen` (`mismatch`), and the try counts; the third wrong " +
    "amount locks verification for 24 hours (409 naming `amount_fen`: `locked`). An amount outside 1–99 fen is 422 (`range`) " +
    "and does not count. Before the deposit is sent: 409 (`no_deposit`). Verifying a verified account returns it unchanged.",
  tags: TAGS,
  auth: "required",
  orgKinds: KINDS,
  action: "settlement_account.verify",
  body: z.object({ amount_fen: z.number().int() }).strict(),
  response: settlementAccountSchema,
});

export const endpoints = [getSettlementAccount, putSettlementAccount, verifySettlementAccount];
