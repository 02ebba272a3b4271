import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MARKET_ORDER_STATUSES } from "../../db/schema";
import { FINAL_STATUSES, HELD_STATUSES, MARKET_ORDER_TRANSITIONS, marketOrderEventsFor, marketOrderStatesMarkdown } from "../../app/domain/market/order-states";

describe("market order state machine", () => {
  it("is documented exactly as the table says", () => {
    expect(readFileSync(new URL("../../docs/market-order-states.md", import.meta.url), "utf8")).toBe(marketOrderStatesMarkdown());
  });

  it("covers every status, and nothing leaves a final one", () => {
    expect(Object.keys(MARKET_ORDER_TRANSITIONS).sort()).toEqual([...MARKET_ORDER_STATUSES].sort());
    for (const status of FINAL_STATUSES) expect(MARKET_ORDER_TRANSITIONS[status]).toEqual({});
  });

  it("resolves the hold exactly on the way out of the held statuses", () => {
    for (const [from, events] of Object.entries(MARKET_ORDER_TRANSITIONS)) {
      for (const t of Object.values(events)) {
        const wasHeld = HELD_STATUSES.includes(from as never);
        const isHeld = HELD_STATUSES.includes(t.to);
        const resolves = t.money === "post_hold" || t.money === "post_part" || t.money === "void_hold";
        expect(resolves, `${from} → ${t.to}`).toBe(wasHeld && !isHeld);
        expect(t.money === "hold", `${from} → ${t.to}`).toBe(!wasHeld && isHeld);
      }
    }
  });

  it("offers each party only its own buttons", () => {
    expect(marketOrderEventsFor("paid", "merchant")).toEqual(["ship", "cancel"]);
    expect(marketOrderEventsFor("paid", "buyer")).toEqual(["dispute"]);
    expect(marketOrderEventsFor("shipped", "buyer")).toEqual(["receive", "dispute"]);
    expect(marketOrderEventsFor("disputed", "operator")).toEqual(["rule_release", "rule_refund_partial", "rule_refund_full"]);
    expect(marketOrderEventsFor("disputed", "buyer")).toEqual([]);
  });
});
