import { describe, expect, it } from "vitest";
import {
  bpsToPercentText,
  fenToYuanText,
  orderQuantityProblem,
  parsePercentToBps,
  parseSkuEntry,
  parseWholeNumber,
  parseYuanToFen,
} from "../../app/domain/catalog/catalog.server";
import { rangesOverlap, resolvePrice, validOn, type PriceCandidates, type PriceRule } from "../../app/domain/pricing/pricing.server";
import { isBusinessDate, shanghaiDate } from "../../app/domain/shared/dates";

const LIST = {
  id: "list-1",
  name: "2026 金牌",
  tierId: "tier-gold",
  tierName: "金牌",
  validFrom: "2026-01-01",
  validTo: null,
};
const OVERRIDE = { id: "ov-1", priceFen: 229_900, validFrom: "2026-01-01", validTo: "2026-12-31", note: "框架协议" };

function candidates(parts: Partial<PriceCandidates> & { items?: { minQty: number; priceFen: number }[] }): PriceCandidates {
  return {
    basePriceFen: 279_900,
    tierName: parts.tierName === undefined ? "金牌" : parts.tierName,
    override: parts.override ?? null,
    priceList: parts.priceList === null ? null : parts.items ? { ...LIST, items: parts.items } : null,
  };
}

const BREAKS = [
  { minQty: 1, priceFen: 246_300 },
  { minQty: 10, priceFen: 237_900 },
  { minQty: 50, priceFen: 229_500 },
];

describe("price resolution: dealer override > tier volume break > tier price > base price", () => {
  const table: { name: string; c: PriceCandidates; qty: number; price: number; rule: PriceRule; minQty?: number; reason?: string }[] = [
    { name: "override wins over every break", c: candidates({ override: OVERRIDE, items: BREAKS }), qty: 100, price: 229_900, rule: "dealer_override" },
    { name: "override wins at quantity 1", c: candidates({ override: OVERRIDE, items: BREAKS }), qty: 1, price: 229_900, rule: "dealer_override" },
    { name: "override applies without a tier", c: candidates({ override: OVERRIDE, tierName: null, priceList: null }), qty: 3, price: 229_900, rule: "dealer_override" },
    { name: "quantity 1 takes the tier price", c: candidates({ items: BREAKS }), qty: 1, price: 246_300, rule: "tier_price", minQty: 1 },
    { name: "just below the first break stays at the tier price", c: candidates({ items: BREAKS }), qty: 9, price: 246_300, rule: "tier_price", minQty: 1 },
    { name: "exactly at a break takes it", c: candidates({ items: BREAKS }), qty: 10, price: 237_900, rule: "volume_break", minQty: 10 },
    { name: "between breaks takes the lower one", c: candidates({ items: BREAKS }), qty: 49, price: 237_900, rule: "volume_break", minQty: 10 },
    { name: "the highest break not above the quantity wins", c: candidates({ items: BREAKS }), qty: 5_000, price: 229_500, rule: "volume_break", minQty: 50 },
    { name: "items in any order resolve the same", c: candidates({ items: [...BREAKS].reverse() }), qty: 60, price: 229_500, rule: "volume_break", minQty: 50 },
    {
      name: "a list with only breaks: below the first is the base price",
      c: candidates({ items: [{ minQty: 20, priceFen: 230_000 }] }),
      qty: 19,
      price: 279_900,
      rule: "base_price",
      reason: "below_first_break",
    },
    {
      name: "a list with only breaks: at the first break it applies",
      c: candidates({ items: [{ minQty: 20, priceFen: 230_000 }] }),
      qty: 20,
      price: 230_000,
      rule: "volume_break",
      minQty: 20,
    },
    { name: "a SKU missing from the list is at base price", c: candidates({ items: [] }), qty: 5, price: 279_900, rule: "base_price", reason: "not_in_price_list" },
    { name: "no list valid for the tier: base price", c: candidates({ priceList: null }), qty: 5, price: 279_900, rule: "base_price", reason: "no_price_list" },
    { name: "no tier: base price", c: candidates({ tierName: null, priceList: null }), qty: 5, price: 279_900, rule: "base_price", reason: "no_tier" },
  ];

  for (const row of table) {
    it(row.name, () => {
      const resolved = resolvePrice(row.c, row.qty);
      expect(resolved.unitPriceFen).toBe(row.price);
      expect(resolved.rule).toBe(row.rule);
      expect(resolved.explanation.rule).toBe(row.rule);
      if (row.minQty !== undefined && "minQty" in resolved.explanation) expect(resolved.explanation.minQty).toBe(row.minQty);
      if (row.reason !== undefined && resolved.explanation.rule === "base_price") expect(resolved.explanation.reason).toBe(row.reason);
      expect(Number.isSafeInteger(resolved.unitPriceFen)).toBe(true);
      expect(resolved.summary.length).toBeGreaterThan(0);
    });
  }

  it("names the list and the override it used", () => {
    const byList = resolvePrice(candidates({ items: BREAKS }), 12).explanation;
    expect(byList).toMatchObject({ priceListId: "list-1", priceListName: "2026 金牌", tierName: "金牌", minQty: 10, validFrom: "2026-01-01", validTo: null });
    const byOverride = resolvePrice(candidates({ override: OVERRIDE, items: BREAKS }), 12).explanation;
    expect(byOverride).toMatchObject({ overrideId: "ov-1", validFrom: "2026-01-01", validTo: "2026-12-31", note: "框架协议" });
  });
});

describe("business dates (Asia/Shanghai)", () => {
  it("turns an instant into the Shanghai calendar date, across the UTC day boundary", () => {
    expect(shanghaiDate(new Date("2026-03-31T15:59:59.999Z"))).toBe("2026-03-31");
    expect(shanghaiDate(new Date("2026-03-31T16:00:00.000Z"))).toBe("2026-04-01");
    expect(shanghaiDate(new Date("2025-12-31T16:00:00Z"))).toBe("2026-01-01");
  });

  it("treats both ends of a validity range as inclusive and a missing end as open", () => {
    const range = { validFrom: "2026-01-01", validTo: "2026-06-30" };
    expect(validOn(range, "2025-12-31")).toBe(false);
    expect(validOn(range, "2026-01-01")).toBe(true);
    expect(validOn(range, "2026-06-30")).toBe(true);
    expect(validOn(range, "2026-07-01")).toBe(false);
    expect(validOn({ validFrom: "2026-01-01", validTo: null }, "2099-01-01")).toBe(true);
  });

  it("sees ranges that share a single day as overlapping, and adjacent ones as not", () => {
    expect(rangesOverlap({ validFrom: "2026-01-01", validTo: "2026-06-30" }, { validFrom: "2026-06-30", validTo: null })).toBe(true);
    expect(rangesOverlap({ validFrom: "2026-01-01", validTo: "2026-06-30" }, { validFrom: "2026-07-01", validTo: null })).toBe(false);
    expect(rangesOverlap({ validFrom: "2026-01-01", validTo: null }, { validFrom: "2020-01-01", validTo: "2025-12-31" })).toBe(false);
    expect(rangesOverlap({ validFrom: "2026-01-01", validTo: null }, { validFrom: "2030-01-01", validTo: null })).toBe(true);
  });

  it("accepts only real calendar dates", () => {
    for (const ok of ["2026-01-01", "2024-02-29", "2026-12-31"]) expect(isBusinessDate(ok), ok).toBe(true);
    for (const bad of ["2026-02-29", "2026-13-01", "2026-1-1", "26-01-01", "2026-04-31", "", "1999-12-31"]) expect(isBusinessDate(bad), bad).toBe(false);
  });
});

describe("entering money, rates and quantities", () => {
  it("reads yuan into integer fen without floating point", () => {
    const table: [string, number | null][] = [
      ["2799", 279_900],
      ["2,799.5", 279_950],
      ["¥1,299.99", 129_999],
      ["０.０１", 1],
      ["0.1", 10],
      ["19.999", null],
      ["-5", null],
      ["1e3", null],
      ["", null],
      ["12,34", null],
    ];
    for (const [raw, fen] of table) expect(parseYuanToFen(raw), raw).toBe(fen);
    // 0.1 + 0.2 is the classic float trap: string arithmetic has none.
    expect(parseYuanToFen("0.30")).toBe(parseYuanToFen("0.1")! + parseYuanToFen("0.2")!);
    expect(fenToYuanText(279_950)).toBe("2799.50");
    expect(fenToYuanText(5)).toBe("0.05");
  });

  it("reads percentages into bps and whole numbers with thousands separators", () => {
    expect(parsePercentToBps("13")).toBe(1300);
    expect(parsePercentToBps("13%")).toBe(1300);
    expect(parsePercentToBps("9.00")).toBe(900);
    expect(parsePercentToBps("abc")).toBeNull();
    expect(bpsToPercentText(1300)).toBe("13");
    expect(bpsToPercentText(650)).toBe("6.50");
    expect(parseWholeNumber("1,200")).toBe(1200);
    expect(parseWholeNumber("１２")).toBe(12);
    expect(parseWholeNumber("1.5")).toBeNull();
  });

  it("reports every bad field of a SKU entry with a problem code", () => {
    const result = parseSkuEntry({ code: "bad code!", name: "", unit: "台", basePrice: "12.345", taxRate: "12", packSize: "6", moq: "8" });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const byField = Object.fromEntries(result.problems.map((p) => [p.field, p.code]));
    expect(byField).toEqual({ code: "code_format", name: "required", basePrice: "money_format", taxRate: "tax_rate", moq: "moq_whole_packs" });
  });

  it("requires the MOQ to be whole packs, defaulting it to one pack", () => {
    const bad = parseSkuEntry({ code: "k-1", name: "电水壶", unit: "件", basePrice: "89", taxRate: "13", packSize: "12", moq: "18" });
    expect(bad.ok === false && bad.problems.map((p) => [p.field, p.code])).toEqual([["moq", "moq_whole_packs"]]);
    const ok = parseSkuEntry({ code: "k-1", name: "电水壶", unit: "件", basePrice: "89", taxRate: "13", packSize: "12" });
    expect(ok.ok && ok.input).toMatchObject({ code: "K-1", moq: 12, packSize: 12, basePriceFen: 8_900, taxRateBps: 1300 });
  });

  it("says why an order quantity cannot be ordered", () => {
    const kettle = { moq: 12, packSize: 6, unit: "件" };
    expect(orderQuantityProblem(kettle, 12)).toBeNull();
    expect(orderQuantityProblem(kettle, 18)).toBeNull();
    expect(orderQuantityProblem(kettle, 6)?.code).toBe("below_moq");
    expect(orderQuantityProblem(kettle, 13)?.code).toBe("not_whole_packs");
    expect(orderQuantityProblem(kettle, 0)?.code).toBe("whole_number");
    expect(orderQuantityProblem(kettle, 1.5)?.code).toBe("whole_number");
  });
});
