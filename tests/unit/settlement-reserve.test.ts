import { describe, expect, it } from "vitest";
import { availableForPayoutFen, RESERVE_RULES, retentionReserve } from "../../app/domain/settlement/reserve";

/** The retention reserve rule per organisation kind (decision 026), as a pure function. */
describe("retention reserve", () => {
  const none = { settledEscrowNetFen: 0, paidOnOpenOrdersFen: 0 };

  it("a merchant keeps 10% of its settled proceeds, rounded up to the fen", () => {
    expect(RESERVE_RULES.merchantShareBps).toBe(1_000);
    expect(retentionReserve("merchant", { ...none, settledEscrowNetFen: 29_250 })).toEqual({ rule: "merchant_settled_share", baseFen: 29_250, shareBps: 1_000, reserveFen: 2_925 });
    expect(retentionReserve("merchant", { ...none, settledEscrowNetFen: 1 }).reserveFen).toBe(1);
    expect(retentionReserve("merchant", { ...none, settledEscrowNetFen: 19 }).reserveFen).toBe(2);
    expect(retentionReserve("merchant", { settledEscrowNetFen: 0, paidOnOpenOrdersFen: 99_999 }).reserveFen).toBe(0);
  });

  it("a core enterprise keeps what dealers paid on open orders; every other kind keeps nothing", () => {
    expect(retentionReserve("core_enterprise", { settledEscrowNetFen: 50_000, paidOnOpenOrdersFen: 30_000 })).toEqual({ rule: "core_enterprise_open_orders", baseFen: 30_000, shareBps: 10_000, reserveFen: 30_000 });
    for (const kind of ["dealer", "market_operator", "buyer", "bank"] as const) {
      expect(retentionReserve(kind, { settledEscrowNetFen: 50_000, paidOnOpenOrdersFen: 30_000 })).toEqual({ rule: "none", baseFen: 0, shareBps: 0, reserveFen: 0 });
    }
  });

  it("the available amount is balance − holds − reserve, never below zero", () => {
    expect(availableForPayoutFen({ balanceFen: 100_000, holdsFen: 20_000, reserveFen: 5_000 })).toBe(75_000);
    expect(availableForPayoutFen({ balanceFen: 10_000, holdsFen: 8_000, reserveFen: 5_000 })).toBe(0);
    // A bad figure never makes a reserve negative.
    expect(retentionReserve("merchant", { ...none, settledEscrowNetFen: -500 }).reserveFen).toBe(0);
  });
});
