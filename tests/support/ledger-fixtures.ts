import type { Db } from "../../db";
import { ensureAccount, transfer, type AccountView } from "../../app/domain/ledger/ledger.server";

let counter = 0;

/** A customer organisation with a wallet, funded from gateway clearing when `fundFen` is given. */
export async function walletWithFunds(db: Db, fundFen = 0, label = "org"): Promise<AccountView> {
  counter += 1;
  const org = await db
    .insertInto("organizations")
    .values({ kind: "dealer", name: `${label}-${counter}-${Math.random().toString(36).slice(2, 8)}` })
    .returning("id")
    .executeTakeFirstOrThrow();
  const wallet = await ensureAccount(db, { kind: "wallet", organizationId: org.id });
  if (fundFen > 0) {
    const clearing = await ensureAccount(db, { kind: "gateway_clearing", organizationId: null });
    await transfer(db, {
      idempotencyKey: `fund:${wallet.id}`,
      kind: "topup",
      reference: `test:${wallet.id}`,
      debitAccountId: clearing.id,
      creditAccountId: wallet.id,
      amountFen: fundFen,
    });
  }
  return wallet;
}
