import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor, pageOfList } from "../../app/domain/shared/cursor.server";

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return { code: (error as { code?: string }).code, fields: (error as { fields?: unknown }).fields };
  }
  return null;
};
const INVALID = { code: "validation", fields: { after: "invalid_cursor" } };
const ID = "0b6f3c2e-8d1a-4c7b-9e2f-5a4d3c2b1a09";

describe("the one cursor codec", () => {
  it("round-trips each kind of sort key and is opaque (URL-safe, not the key itself)", () => {
    const at = new Date("2026-12-07T01:02:03.456Z");
    const cursor = encodeCursor([at, ID]);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(cursor).not.toContain(ID);
    expect(decodeCursor(cursor, ["timestamp", "uuid"])).toEqual([at.toISOString(), ID]);
    expect(decodeCursor(encodeCursor(["2026-12-07T01:02:03.456789Z", ID]), ["timestamp", "uuid"])).toEqual(["2026-12-07T01:02:03.456789Z", ID]);
    expect(decodeCursor(encodeCursor(["AC-1", 10]), ["text", "int"])).toEqual(["AC-1", 10]);
    expect(decodeCursor(encodeCursor(["女装", "2026-02-28"]), ["text", "date"])).toEqual(["女装", "2026-02-28"]);
  });

  it("no cursor is the first page", () => {
    for (const none of [undefined, null, ""]) expect(decodeCursor(none, ["text"])).toBeNull();
  });

  it("refuses anything it did not give out for this list's key: garbage, wrong shape, wrong kinds, impossible values", () => {
    const forged = [
      "garbage!",
      "AC-1~10",
      Buffer.from("AC-1").toString("base64url"),
      encodeCursor(["AC-1"]),
      encodeCursor(["AC-1", 10, 11]),
      encodeCursor(["2026-12-07", ID]),
      encodeCursor(["2026-12-07T01:02:03Z", "not-a-uuid"]),
      encodeCursor(["x".repeat(201), 1]),
      encodeCursor(["AC-1", 1.5]),
      encodeCursor(["AC-1", "10"]),
      "A".repeat(2000),
    ];
    for (const bad of forged) expect(refusal(() => decodeCursor(bad, ["text", "int"])), bad.slice(0, 40)).toEqual(INVALID);
    expect(refusal(() => decodeCursor(encodeCursor(["女装", "2026-02-30"]), ["text", "date"]))).toEqual(INVALID);
    expect(refusal(() => decodeCursor(encodeCursor(["2026-13-01T00:00:00Z", ID]), ["timestamp", "uuid"]))).toEqual(INVALID);
  });

  it("pages a short list by the last row's id, and refuses an id not in it", () => {
    const ids = Array.from({ length: 5 }, (_, i) => `0b6f3c2e-8d1a-4c7b-9e2f-5a4d3c2b1a0${i}`);
    const first = pageOfList(ids, (x) => x, { limit: 2 });
    expect(first.items).toEqual(ids.slice(0, 2));
    const second = pageOfList(ids, (x) => x, { after: first.nextCursor, limit: 2 });
    const third = pageOfList(ids, (x) => x, { after: second.nextCursor, limit: 2 });
    expect([...second.items, ...third.items]).toEqual(ids.slice(2));
    expect(third.nextCursor).toBeNull();
    expect(refusal(() => pageOfList(ids, (x) => x, { after: encodeCursor([ID]), limit: 2 }))).toEqual(INVALID);
  });
});
