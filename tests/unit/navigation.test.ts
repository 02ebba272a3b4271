import { describe, expect, it } from "vitest";
import { activeNavEntry, navFor } from "../../app/navigation";

describe("top navigation", () => {
  const buyer = navFor("buyer");
  const at = (path: string) => activeNavEntry(buyer, path)?.to;

  it("marks the deepest entry a page lives under", () => {
    expect(at("/")).toBe("/");
    expect(at("/market")).toBe("/market");
    expect(at("/market/8c1f0f5e-0000-4000-8000-000000000000")).toBe("/market");
    expect(at("/market/cart")).toBe("/market/cart");
    expect(at("/market/orders/8c1f0f5e-0000-4000-8000-000000000000")).toBe("/market/orders");
    expect(at("/market/announcements")).toBe("/market/announcements");
  });

  it("marks nothing for a page outside the entries, and never the dashboard for a sub-page", () => {
    expect(at("/settings/api-keys")).toBeUndefined();
    expect(at("/marketplace")).toBeUndefined();
  });
});
