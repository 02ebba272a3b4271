import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "kysely";
import type { DbHandle } from "../../db";
import { chargeOnAccount, creditSummary } from "../../app/domain/credit/credit.server";
import {
  createDealerLink,
  DEALER_LINK_TRANSITIONS,
  dealerLinkEvents,
  findActiveDealerLink,
  getDealerLink,
  getSupplierForDealer,
  listDealerLinks,
  listSuppliersForDealer,
  transitionDealerLink,
  updateDealerLink,
} from "../../app/domain/dealers/dealers.server";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import { createTier } from "../../app/domain/pricing/pricing.server";
import { actorOf, makeLink, newOrg, newUser } from "./catalog.fixtures";
import { createTestDatabase } from "../support/db";

describe("dealer network", () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await createTestDatabase({ poolMax: 10 });
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("links a dealer with tier, region, terms and a credit limit held in the ledger only", async () => {
    const core = await newOrg(handle.db, "core_enterprise");
    const dealer = await newOrg(handle.db, "dealer", "杭州鑫达商贸有限公司");
    const gold = await createTier(handle.db, actorOf(core), core, { name: "金牌", rank: 1 });
    const link = await createDealerLink(handle.db, actorOf(core), {
      coreEnterpriseId: core,
      dealerId: dealer,
      tierId: gold.id,
      region: "浙江省杭州市",
      paymentTermsDays: 30,
      creditLimitFen: 50_000_000,
    });
    expect(link).toMatchObject({ dealerName: "杭州鑫达商贸有限公司", tierName: "金牌", region: "浙江省杭州市", paymentTermsDays: 30, status: "active" });
    expect(link.credit).toEqual({ limitFen: 50_000_000, usedFen: 0, availableFen: 50_000_000 });
    expect(await creditSummary(handle.db, link.id)).toEqual(link.credit);
    const columns = await sql<{ column_name: string }>`
      select column_name from information_schema.columns where table_name = 'dealer_links' and column_name like '%credit%'`.execute(handle.db);
    expect(columns.rows).toEqual([]);
    await expect(
      createDealerLink(handle.db, actorOf(core), { coreEnterpriseId: core, dealerId: dealer, tierId: null, region: "x", paymentTermsDays: 30, creditLimitFen: 0 }),
    ).rejects.toMatchObject({ code: "conflict", fields: { dealerId: "already_in_network" } });
    const notDealer = await newOrg(handle.db, "core_enterprise");
    await expect(
      createDealerLink(handle.db, actorOf(core), { coreEnterpriseId: core, dealerId: notDealer, tierId: null, region: "x", paymentTermsDays: 30, creditLimitFen: 0 }),
    ).rejects.toMatchObject({ code: "validation", fields: { dealerId: "not_dealer" } });
    expect(await verifyLedger(handle.db)).toEqual([]);
  });

  it("changes terms and limit together, and changes nothing when the limit is below what is owed", async () => {
    const core = await newOrg(handle.db, "core_enterprise");
    const user = await newUser(handle.db);
    const actor = actorOf(core, user);
    const silver = await createTier(handle.db, actor, core, { name: "银牌", rank: 2 });
    const link = await makeLink(handle.db, core, { creditLimitFen: 20_000_000 });
    await chargeOnAccount(handle.db, { linkId: link.id, coreEnterpriseId: core, dealerId: link.dealerId }, { reference: "order:t1", amountFen: 8_000_000 });

    const updated = await updateDealerLink(handle.db, actor, core, link.id, { tierId: silver.id, region: "浙江省宁波市", paymentTermsDays: 45, creditLimitFen: 30_000_000 });
    expect(updated).toMatchObject({ tierName: "银牌", region: "浙江省宁波市", paymentTermsDays: 45 });
    expect(updated.credit).toEqual({ limitFen: 30_000_000, usedFen: 8_000_000, availableFen: 22_000_000 });

    await expect(
      updateDealerLink(handle.db, actor, core, link.id, { tierId: null, region: "浙江省温州市", paymentTermsDays: 60, creditLimitFen: 7_999_999 }),
    ).rejects.toMatchObject({ code: "validation", fields: { creditLimit: "below_used" } });
    // The whole change was refused: region and terms are as before.
    expect(await getDealerLink(handle.db, core, link.id)).toMatchObject({ region: "浙江省宁波市", paymentTermsDays: 45, tierName: "银牌" });

    await expect(
      updateDealerLink(handle.db, actor, core, link.id, { tierId: null, region: " ", paymentTermsDays: 400, creditLimitFen: -1 }),
    ).rejects.toMatchObject({ code: "validation", fields: { region: "required", paymentTermsDays: "out_of_range", creditLimit: "out_of_range" } });

    const audit = await handle.db
      .selectFrom("audit_events")
      .select(["action", "actor_user_id"])
      .where("entity_id", "=", link.id)
      .orderBy("id")
      .execute();
    expect(audit.map((a) => a.action)).toEqual([
      "dealer_link.created",
      "dealer_link.credit_limit_set",
      "dealer_link.updated",
      "dealer_link.credit_limit_set",
    ]);
    expect(audit.at(-1)?.actor_user_id).toBe(user);
  });

  it("suspends and reactivates by the transition table; a suspended dealer has no active link", async () => {
    const core = await newOrg(handle.db, "core_enterprise");
    const link = await makeLink(handle.db, core);
    expect(dealerLinkEvents("active")).toEqual(["suspend"]);
    expect(DEALER_LINK_TRANSITIONS.suspended.reactivate).toBe("active");
    expect(await findActiveDealerLink(handle.db, core, link.dealerId)).toMatchObject({ id: link.id });
    await transitionDealerLink(handle.db, actorOf(core), core, link.id, "suspend", "逾期未回款");
    expect(await findActiveDealerLink(handle.db, core, link.dealerId)).toBeNull();
    await expect(transitionDealerLink(handle.db, actorOf(core), core, link.id, "suspend")).rejects.toMatchObject({ code: "invalid_state" });
    await transitionDealerLink(handle.db, actorOf(core), core, link.id, "reactivate");
    expect(await findActiveDealerLink(handle.db, core, link.dealerId)).toMatchObject({ status: "active" });
    const events = await handle.db.selectFrom("audit_events").select(["action", "after"]).where("entity_id", "=", link.id).where("action", "like", "dealer_link.%ed").orderBy("id").execute();
    expect(events.map((e) => e.action)).toContain("dealer_link.suspended");
    expect(events.find((e) => e.action === "dealer_link.suspended")?.after).toEqual({ status: "suspended", reason: "逾期未回款" });
    // A suspended organisation has no active link either.
    await handle.db.updateTable("organizations").set({ status: "suspended" }).where("id", "=", link.dealerId).execute();
    expect(await findActiveDealerLink(handle.db, core, link.dealerId)).toBeNull();
  });

  it("lists the network by dealer name in keyset pages, with ledger credit figures and filters", async () => {
    const core = await newOrg(handle.db, "core_enterprise");
    const names = ["宁波鑫达", "杭州鑫达", "绍兴万家福", "温州百货", "嘉兴家电"];
    for (const [i, name] of names.entries()) {
      await makeLink(handle.db, core, { dealerId: await newOrg(handle.db, "dealer", name), creditLimitFen: (i + 1) * 1_000_000, region: i % 2 ? "浙江省宁波市" : "浙江省杭州市" });
    }
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 5; page++) {
      const result: Awaited<ReturnType<typeof listDealerLinks>> = await listDealerLinks(handle.db, core, { limit: 2, after });
      seen.push(...result.items.map((l) => l.dealerName));
      for (const l of result.items) expect(l.credit.limitFen).toBeGreaterThan(0);
      after = result.nextCursor;
      if (!after) break;
    }
    // Every dealer once, in the same order as one unpaged read (the database's collation decides).
    const whole = await listDealerLinks(handle.db, core, { limit: 100 });
    expect(seen).toEqual(whole.items.map((l) => l.dealerName));
    expect(new Set(seen)).toEqual(new Set(names));
    // Matches the dealer name or the region.
    expect((await listDealerLinks(handle.db, core, { search: "宁波" })).items.map((l) => l.dealerName).sort()).toEqual(["宁波鑫达", "杭州鑫达", "温州百货"].sort());
    await expect(listDealerLinks(handle.db, core, { after: "garbage" })).rejects.toMatchObject({ code: "validation", fields: { after: "invalid_cursor" } });
  });

  it("shows a dealer the core enterprises it buys from, and nothing of others", async () => {
    const coreA = await newOrg(handle.db, "core_enterprise", "华通电器");
    const coreB = await newOrg(handle.db, "core_enterprise", "美达厨电");
    const coreC = await newOrg(handle.db, "core_enterprise", "无关企业");
    const dealer = await newOrg(handle.db, "dealer");
    await makeLink(handle.db, coreA, { dealerId: dealer, creditLimitFen: 1_000 });
    await makeLink(handle.db, coreB, { dealerId: dealer });
    const suppliers = await listSuppliersForDealer(handle.db, dealer);
    expect(suppliers.map((s) => [s.coreName, s.credit.limitFen])).toEqual([
      ["华通电器", 1_000],
      ["美达厨电", 0],
    ]);
    await expect(getSupplierForDealer(handle.db, dealer, coreC)).rejects.toMatchObject({ code: "not_found" });
    await expect(getSupplierForDealer(handle.db, dealer, "nope")).rejects.toMatchObject({ code: "not_found" });
  });

  it("answers not found for another core enterprise's dealer link", async () => {
    const core = await newOrg(handle.db, "core_enterprise");
    const intruder = await newOrg(handle.db, "core_enterprise");
    const link = await makeLink(handle.db, core, { creditLimitFen: 5_000 });
    await expect(getDealerLink(handle.db, intruder, link.id)).rejects.toMatchObject({ code: "not_found" });
    await expect(
      updateDealerLink(handle.db, actorOf(intruder), intruder, link.id, { tierId: null, region: "x", paymentTermsDays: 1, creditLimitFen: 1 }),
    ).rejects.toMatchObject({ code: "not_found" });
    await expect(transitionDealerLink(handle.db, actorOf(intruder), intruder, link.id, "suspend")).rejects.toMatchObject({ code: "not_found" });
    expect((await listDealerLinks(handle.db, intruder)).items).toEqual([]);
    expect(await findActiveDealerLink(handle.db, intruder, link.dealerId)).toBeNull();
    // Another tenant's tier cannot be assigned either.
    const foreignTier = await createTier(handle.db, actorOf(intruder), intruder, { name: "金牌", rank: 1 });
    await expect(
      updateDealerLink(handle.db, actorOf(core), core, link.id, { tierId: foreignTier.id, region: "x", paymentTermsDays: 1, creditLimitFen: 5_000 }),
    ).rejects.toMatchObject({ code: "validation", fields: { tierId: "unknown_tier" } });
    expect((await getDealerLink(handle.db, core, link.id)).credit.limitFen).toBe(5_000);
  });
});
