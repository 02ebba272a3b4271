import type { Db } from "../../db";
import type { OrganizationKind, Role } from "../../db/schema";
import { SYSTEM_ACTOR, usccCheckCharacter } from "../domain/shared";
import { ensureAccount, transfer, type AccountView } from "../domain/ledger";
import { addMembership, createOrganization, hashPassword } from "../domain/identity";
import { seedSupplyChainDemo } from "./supply-chain.server";
import { seedRecruitmentDemo } from "./recruitment.server";
import { seedOrdersDemo } from "./orders.server";
import { seedMarketDemo } from "./market.server";
import { seedMarketListingsDemo } from "./market-listings.server";
import { seedMarketTradeDemo } from "./market-trade.server";
import { seedFinancingDemo } from "./financing.server";
import { seedCreditLineDemo } from "./financing-credit-line.server";
import { seedReceivablesDemo } from "./financing-receivables.server";
import { seedMarketReceivablesDemo } from "./financing-market-receivables.server";
import { seedSettlementDemo } from "./settlement.server";

/** Demo organisations and logins: a contract other tools and the README rely on. */
export const DEMO_LOGINS = [
  { email: "bank@demo.test", description: "融通银行 platform admin + credit officer" },
  { email: "core@demo.test", description: "owner of core enterprise 华通电器" },
  { email: "dealer@demo.test", description: "owner of dealer 杭州鑫达商贸 (and purchaser at 宁波鑫达电器)" },
  { email: "operator@demo.test", description: "operator of 四季青服装批发市场" },
  { email: "seller@demo.test", description: "merchant 李记服饰 in that market" },
  { email: "buyer@demo.test", description: "buyer 温州优品百货 in that market" },
] as const;

function uscc(first17: string): string {
  const check = usccCheckCharacter(first17);
  if (!check) throw new Error(`demo USCC base ${first17} is not valid`);
  return first17 + check;
}

const ORGS: Record<string, { kind: OrganizationKind; name: string; nameEn: string; uscc: string }> = {
  bank: { kind: "bank", name: "融通银行", nameEn: "Rongtong Bank", uscc: uscc("91330000MA27XK3G1") },
  core: { kind: "core_enterprise", name: "华通电器", nameEn: "Huatong Electric Appliances", uscc: uscc("91330106MA2CFH8L5") },
  dealer: { kind: "dealer", name: "杭州鑫达商贸有限公司", nameEn: "Hangzhou Xinda Trading", uscc: uscc("91330105MA2H3T4K9") },
  dealer2: { kind: "dealer", name: "宁波鑫达电器销售有限公司", nameEn: "Ningbo Xinda Electric Sales", uscc: uscc("91330203MA2AQW7N2") },
  operator: { kind: "market_operator", name: "四季青市场管理有限公司", nameEn: "Sijiqing Market Management", uscc: uscc("91330104MA28LU6P0") },
  merchant: { kind: "merchant", name: "杭州李记服饰商行", nameEn: "Li's Apparel", uscc: uscc("92330104MA2KBR5E3") },
  buyer: { kind: "buyer", name: "温州优品百货有限公司", nameEn: "Wenzhou Youpin Department Store", uscc: uscc("91330302MA2J9CDY6") },
};

const USERS: { email: string; name: string; locale: string; memberships: [keyof typeof ORGS, Role][] }[] = [
  { email: "bank@demo.test", name: "周行长 Zhou", locale: "zh-CN", memberships: [["bank", "platform_admin"], ["bank", "credit_officer"]] },
  { email: "core@demo.test", name: "王总 Wang", locale: "zh-CN", memberships: [["core", "owner"]] },
  { email: "dealer@demo.test", name: "陈经理 Chen", locale: "zh-CN", memberships: [["dealer", "owner"], ["dealer2", "purchaser"]] },
  { email: "operator@demo.test", name: "刘主任 Liu", locale: "zh-CN", memberships: [["operator", "owner"]] },
  { email: "seller@demo.test", name: "李老板 Li", locale: "zh-CN", memberships: [["merchant", "owner"]] },
  { email: "buyer@demo.test", name: "赵采购 Zhao", locale: "zh-CN", memberships: [["buyer", "owner"]] },
];

/**
 * Seed the demo world once: organisations, logins, ledger accounts and opening money movements,
 * all through the same model functions the product uses (so the ledger verifies clean).
 * Does nothing when a bank organisation already exists.
 */
export async function seedDemoData(
  db: Db,
  options: { password: string; epayMerchantId?: string },
): Promise<{ seeded: boolean; logins: { email: string; description: string }[] }> {
  const logins = DEMO_LOGINS.map((l) => ({ ...l }));
  const existing = await db.selectFrom("organizations").select("id").where("kind", "=", "bank").executeTakeFirst();
  if (existing) return { seeded: false, logins };

  // One hash for every demo login: they share a published password, and scrypt is slow by design.
  const passwordHash = await hashPassword(options.password);

  const orgIds = {} as Record<keyof typeof ORGS, string>;
  await db.transaction().execute(async (trx) => {
    for (const [key, org] of Object.entries(ORGS) as [keyof typeof ORGS, (typeof ORGS)[string]][]) {
      const row = await createOrganization(trx, SYSTEM_ACTOR, org);
      orgIds[key] = row.id;
    }
    for (const user of USERS) {
      const row = await trx
        .insertInto("users")
        .values({ email: user.email, display_name: user.name, password_hash: passwordHash, locale: user.locale })
        .returning("id")
        .executeTakeFirstOrThrow();
      for (const [org, role] of user.memberships) {
        await addMembership(trx, SYSTEM_ACTOR, row.id, orgIds[org], role);
      }
    }

    const bankAccount = (kind: "gateway_clearing" | "bank_equity" | "interest_income" | "penalty_income") =>
      ensureAccount(trx, { kind, organizationId: orgIds.bank, code: kind });
    const clearing = await bankAccount("gateway_clearing");
    await bankAccount("bank_equity");
    await bankAccount("interest_income");
    await bankAccount("penalty_income");

    const wallets = {} as Record<Exclude<keyof typeof ORGS, "bank">, AccountView>;
    for (const key of ["core", "dealer", "dealer2", "operator", "merchant", "buyer"] as const) {
      wallets[key] = await ensureAccount(trx, { kind: "wallet", organizationId: orgIds[key] });
    }

    let n = 0;
    const move = async (
      kind: string,
      from: AccountView,
      to: AccountView,
      amountFen: number,
      pending = false,
    ) => {
      n += 1;
      return transfer(trx, {
        idempotencyKey: `demo:${n}:${kind}`,
        kind,
        reference: `demo:opening:${n}`,
        debitAccountId: from.id,
        creditAccountId: to.id,
        amountFen,
        pending,
      });
    };
    await move("topup", clearing, wallets.core, 128_000_000);
    await move("topup", clearing, wallets.dealer, 35_680_000);
    await move("topup", clearing, wallets.dealer2, 8_800_000);
    await move("topup", clearing, wallets.buyer, 5_200_000);
    await move("topup", clearing, wallets.merchant, 1_500_000);
    await move("order_payment", wallets.dealer, wallets.core, 12_650_000);
    await seedSupplyChainDemo(trx, { core: orgIds.core, dealer: orgIds.dealer, dealer2: orgIds.dealer2 });
    await seedRecruitmentDemo(trx, { coreEnterpriseId: orgIds.core });
    await seedOrdersDemo(trx, { core: orgIds.core, dealer: orgIds.dealer, dealer2: orgIds.dealer2 });
    const { marketId } = await seedMarketDemo(trx, { operatorId: orgIds.operator, merchantId: orgIds.merchant });
    // Listings (and the buyer's cart), then a fortnight of trade bought from them.
    await seedMarketListingsDemo(trx, { operatorId: orgIds.operator, marketId, merchantId: orgIds.merchant, buyerId: orgIds.buyer });
    await seedMarketTradeDemo(trx, { marketId, buyerId: orgIds.buyer });
    await seedFinancingDemo(trx, { bank: orgIds.bank, core: orgIds.core, dealer: orgIds.dealer });
    await seedCreditLineDemo(trx, { bank: orgIds.bank, dealer2: orgIds.dealer2 });
    await seedReceivablesDemo(trx, { bank: orgIds.bank, core: orgIds.core, dealer: orgIds.dealer });
    await seedMarketReceivablesDemo(trx, { bank: orgIds.bank, merchant: orgIds.merchant, buyer: orgIds.buyer });
  });
  await seedSettlementDemo(
    db,
    { core: { id: orgIds.core, name: ORGS.core!.name }, merchant: { id: orgIds.merchant, name: ORGS.merchant!.name } },
    { epayMerchantId: options.epayMerchantId ?? "rongtong" },
  );
  return { seeded: true, logins };
}
