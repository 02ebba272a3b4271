import { describe, expect, it } from "vitest";
import { DomainError } from "../../app/domain/shared/errors";
import { MARKET_ORDER_EVENT_ROLES, MARKET_ORDER_TRANSITIONS, type MarketOrderEvent } from "../../app/domain/market/order-states";
import { ORDER_EVENT_ROLES, ORDER_MACHINES, type OrderEvent } from "../../app/domain/orders/states";
import { ACTIONS, assertMay, may, mayMap, rolesFor } from "../../app/domain/identity/permissions";

/**
 * The permission table as a specification: the roles beside each state machine name exactly the
 * parties its transitions allow, and the check refuses the way pages and the API render it.
 */
describe("who may do what", () => {
  it("gives roles to exactly the parties that may fire each dealer-order event", () => {
    for (const [event, byParty] of Object.entries(ORDER_EVENT_ROLES) as [OrderEvent, Record<string, readonly string[]>][]) {
      const parties = new Set(
        Object.values(ORDER_MACHINES)
          .flat()
          .filter((t) => t.event === event)
          .flatMap((t) => t.by)
          .filter((p) => p !== "system"),
      );
      expect(new Set(Object.keys(byParty)), event).toEqual(parties);
      for (const roles of Object.values(byParty)) expect(roles.length, event).toBeGreaterThan(0);
    }
  });

  it("gives roles to exactly the parties that may fire each market-order event (paying: the buyer, through its checkout)", () => {
    for (const [event, byActor] of Object.entries(MARKET_ORDER_EVENT_ROLES) as [MarketOrderEvent, Record<string, readonly string[]>][]) {
      const actors = new Set(
        Object.values(MARKET_ORDER_TRANSITIONS)
          .flatMap((events) => (events[event] ? events[event]!.by : []))
          .filter((a) => a !== "system"),
      );
      if (event === "pay") actors.add("buyer");
      expect(new Set(Object.keys(byActor)), event).toEqual(actors);
    }
  });

  it("lets a dealer's finance member pay but not a viewer, and says which roles may", () => {
    expect(may(["finance"], "order.pay", "dealer")).toBe(true);
    expect(may(["viewer"], "order.pay", "dealer")).toBe(false);
    let refusal: unknown;
    try {
      assertMay(["viewer"], "order.pay", "dealer");
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(DomainError);
    expect((refusal as DomainError).status).toBe(403);
    expect((refusal as DomainError).message).toBe("This needs one of the roles owner, admin, purchaser, finance");
    expect((refusal as DomainError).fields).toEqual({ roles: "owner,admin,purchaser,finance" });
  });

  it("answers an action another kind of organisation does not have as not found", () => {
    expect(() => assertMay(["owner"], "order.confirm", "dealer")).toThrowError(expect.objectContaining({ code: "not_found", status: 404 }));
    expect(rolesFor("order.confirm", "dealer")).toEqual([]);
  });

  it("keeps each side's own roles where both sides may act (cancelling an order)", () => {
    expect(rolesFor("order.cancel", "dealer")).toEqual(["owner", "admin", "purchaser"]);
    expect(rolesFor("order.cancel", "core_enterprise")).toEqual(["owner", "admin", "sales"]);
    expect(mayMap(["sales"], "dealer", ["order.cancel", "order.pay"])).toEqual({ "order.cancel": false, "order.pay": false });
  });

  it("lets the supplier's finance team, not its sales staff, refund a return", () => {
    expect(may(["finance"], "order.refund", "core_enterprise")).toBe(true);
    expect(may(["sales"], "order.refund", "core_enterprise")).toBe(false);
    expect(may(["sales"], "order.approve_return", "core_enterprise")).toBe(true);
  });

  it("has an entry for every order and market-order event (system-only events with no roles)", () => {
    for (const event of Object.keys(ORDER_EVENT_ROLES)) expect(ACTIONS).toHaveProperty([`order.${event}`]);
    for (const event of Object.keys(MARKET_ORDER_EVENT_ROLES)) expect(ACTIONS).toHaveProperty([`market_order.${event}`]);
  });
});
