import type { Db } from "../../db";
import type { EpayGateway } from "../domain/payments";
import { confirmVerificationDeposit, registerSettlementAccount, sendVerificationDeposit } from "../domain/settlement";
import { logger } from "../logger.server";
import { sandboxBankStatement, sandboxPayout } from "../sandbox/epay/payouts.server";

/**
 * Demo settlement accounts (对公账户): the core enterprise's and the merchant's, each registered,
 * sent its verification deposit and verified with the amount read off its (sandbox) bank
 * statement, as their finance staff would. Runs after the seed's transaction: the deposit goes out
 * through the gateway, which is never called inside a transaction. The web server is not listening
 * yet, so the gateway here is the sandbox's own payout function, called in-process.
 */
export async function seedSettlementDemo(
  db: Db,
  orgs: { core: { id: string; name: string }; merchant: { id: string; name: string } },
  options: { epayMerchantId: string },
): Promise<void> {
  const sandboxDeps = { db, logger, config: { merchantId: options.epayMerchantId, secret: "", baseUrl: "", chaos: false } };
  const gateway = {
    async payout(input: Parameters<EpayGateway["payout"]>[0]) {
      const request = {
        merchant_payout_reference: input.merchantPayoutReference,
        amount_fen: input.amountFen,
        currency: "CNY",
        bank_name: input.bankName,
        account_number: input.accountNumber,
        account_name: input.accountName,
        remark: input.remark,
      };
      return (await sandboxPayout(sandboxDeps, JSON.stringify(request))).body;
    },
  } as EpayGateway;
  const accounts = [
    { org: orgs.core, kind: "core_enterprise" as const, bankName: "中国工商银行", branchName: "杭州分行营业部", accountNumber: "1202021409900123456" },
    { org: orgs.merchant, kind: "merchant" as const, bankName: "中国建设银行", branchName: "杭州四季青支行", accountNumber: "33050161672700004321" },
  ];
  const now = new Date();
  for (const a of accounts) {
    const who = { organizationId: a.org.id, kind: a.kind, roles: ["owner" as const] };
    const actor = { userId: null, organizationId: a.org.id };
    await registerSettlementAccount(db, actor, who, { bankName: a.bankName, branchName: a.branchName, accountNumber: a.accountNumber, accountName: a.org.name }, now);
    const outcome = await sendVerificationDeposit(db, gateway, a.org.id, now);
    if (outcome !== "sent" && outcome !== "already_sent") throw new Error(`demo settlement account of ${a.org.name}: deposit ${outcome}`);
    const [deposit] = await sandboxBankStatement(db, a.accountNumber);
    await confirmVerificationDeposit(db, actor, who, deposit!.amountFen, now);
  }
}
