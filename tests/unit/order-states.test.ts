import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { orderStatesMarkdown } from "../../app/domain/orders/states-doc";
import { availableEvents, findTransition, ORDER_KINDS, ORDER_MACHINES, ORDER_STATUSES, TERMINAL_STATUSES } from "../../app/domain/orders/states";

describe("order state machine", () => {
  it("is documented exactly as the table says", () => {
    expect(readFileSync(new URL("../../docs/order-states.md", import.meta.url), "utf8")).toBe(orderStatesMarkdown());
  });

  it("has one transition per state and event, and nothing leaves a terminal state", () => {
    for (const kind of ORDER_KINDS) {
      const keys = ORDER_MACHINES[kind].map((t) => `${t.from}:${t.event}`);
      expect(new Set(keys).size, kind).toBe(keys.length);
      for (const t of ORDER_MACHINES[kind]) {
        expect(ORDER_STATUSES).toContain(t.to);
        expect(TERMINAL_STATUSES).not.toContain(t.from);
      }
    }
  });

  it("lets nobody cancel once goods have shipped", () => {
    for (const kind of ["standard", "replenishment", "preorder"] as const) {
      for (const status of ["partially_shipped", "shipped", "received", "completed"] as const) {
        expect(findTransition(kind, status, "cancel")).toBeUndefined();
      }
    }
  });

  it("offers each party only its own buttons", () => {
    expect(availableEvents("standard", "submitted", "core_enterprise")).toEqual(["confirm", "reject", "cancel"]);
    expect(availableEvents("standard", "submitted", "dealer")).toEqual(["cancel"]);
    expect(availableEvents("standard", "shipped", "dealer")).toEqual(["receive"]);
    expect(availableEvents("return", "requested", "core_enterprise")).toEqual(["approve_return", "reject_return"]);
  });
});
