import { describe, expect, it } from "vitest";
import { autoConfirmTimer, FINAL_STATUSES, MARKET_ORDER_TRANSITIONS, RULING_ENDS_ORDER } from "../../app/domain/market/order-states";

describe("the auto-confirm timer and disputes", () => {
  it("never resumes after a ruling, because every ruling ends the order", () => {
    expect(RULING_ENDS_ORDER).toBe(true);
    const rulings = Object.values(MARKET_ORDER_TRANSITIONS.disputed);
    expect(rulings.length).toBeGreaterThan(0);
    for (const t of rulings) expect(FINAL_STATUSES).toContain(t!.to);
  });

  it("runs while shipped, pauses while disputed, and is ended by the ruling", () => {
    const due = "2027-01-06T12:00:00.000Z";
    expect(autoConfirmTimer({ status: "shipped", autoConfirmAt: due }, null)).toEqual({ state: "running", dueAt: due });
    const open = { status: "open" as const, openedAt: "2027-01-02T08:00:00.000Z", openedFromStatus: "shipped", ruledAt: null };
    expect(autoConfirmTimer({ status: "disputed", autoConfirmAt: null }, open)).toEqual({ state: "paused", since: open.openedAt, wasRunning: true });
    expect(autoConfirmTimer({ status: "disputed", autoConfirmAt: null }, { ...open, openedFromStatus: "paid" })).toMatchObject({ state: "paused", wasRunning: false });
    const ruled = { ...open, status: "ruled" as const, ruledAt: "2027-01-03T08:00:00.000Z" };
    expect(autoConfirmTimer({ status: "settled", autoConfirmAt: null }, ruled)).toEqual({ state: "ended_by_ruling", at: ruled.ruledAt });
    expect(autoConfirmTimer({ status: "paid", autoConfirmAt: null }, null)).toEqual({ state: "none" });
  });
});
