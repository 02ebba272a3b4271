import { describe, expect, it } from "vitest";
import { LOAN_CLASSES, checkReclassification, classFloor, dpdBucket, effectiveClass } from "../../app/domain/financing/risk";

describe("dpdBucket", () => {
  it.each([
    [0, "current"],
    [1, "M1"],
    [30, "M1"],
    [31, "M2"],
    [60, "M2"],
    [61, "M3"],
    [90, "M3"],
    [91, "M3+"],
    [270, "M3+"],
    [271, "M3+"],
    [360, "M3+"],
    [361, "M3+"],
  ])("%i days → %s", (days, bucket) => {
    expect(dpdBucket(days)).toBe(bucket);
  });
  it("refuses negative or fractional days", () => {
    expect(() => dpdBucket(-1)).toThrow(RangeError);
    expect(() => dpdBucket(1.5)).toThrow(RangeError);
  });
});

describe("classFloor", () => {
  it.each([
    [0, "normal"],
    [1, "special_mention"],
    [30, "special_mention"],
    [31, "special_mention"],
    [60, "special_mention"],
    [61, "special_mention"],
    [90, "special_mention"],
    [91, "substandard"],
    [270, "substandard"],
    [271, "doubtful"],
    [360, "doubtful"],
    [361, "loss"],
  ])("%i days → %s", (days, loanClass) => {
    expect(classFloor(days)).toBe(loanClass);
  });
});

describe("effectiveClass and reclassification", () => {
  it("orders the classes 正常 < 关注 < 次级 < 可疑 < 损失", () => {
    expect(LOAN_CLASSES).toEqual(["normal", "special_mention", "substandard", "doubtful", "loss"]);
  });

  it("takes the worse of floor and officer", () => {
    expect(effectiveClass("normal", null)).toBe("normal");
    expect(effectiveClass("substandard", null)).toBe("substandard");
    expect(effectiveClass("special_mention", "doubtful")).toBe("doubtful");
    expect(effectiveClass("substandard", "normal")).toBe("substandard");
    expect(effectiveClass("loss", "loss")).toBe("loss");
  });

  it("refuses a class better than the floor", () => {
    expect(checkReclassification("substandard", "special_mention")).toMatchObject({ ok: false });
    expect(checkReclassification("special_mention", "normal")).toMatchObject({ ok: false });
    expect(checkReclassification("substandard", "substandard")).toEqual({ ok: true });
    expect(checkReclassification("normal", "doubtful")).toEqual({ ok: true });
  });
});
