import { describe, expect, it } from "vitest";
import { isValidUscc, usccCheckCharacter, usccProblem } from "../../app/domain/shared/uscc";

// Codes published on the business licences of well-known companies.
const KNOWN_VALID = [
  "91330100799655058B",
  "91440300708461136T",
  "9144030071526726XG",
  "91110108551385082Q",
  "914403001922038216",
  "91110000710934289T",
];

describe("Unified Social Credit Code (GB 32100-2015)", () => {
  it.each(KNOWN_VALID)("accepts the published code %s", (code) => {
    expect(usccProblem(code)).toBeNull();
    expect(isValidUscc(code.toLowerCase())).toBe(true);
  });

  it.each(KNOWN_VALID)("refuses %s with any single character changed", (code) => {
    const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    for (let i = 0; i < 18; i++) {
      const replacement = alphabet[(alphabet.indexOf(code[i]) + 7) % alphabet.length];
      const corrupted = code.slice(0, i) + replacement + code.slice(i + 1);
      expect(usccProblem(corrupted), corrupted).toBe("check_character");
    }
  });

  it("names what is wrong: length, characters or the check character", () => {
    expect(usccProblem("9133010079965505")).toBe("length");
    expect(usccProblem("91330100799655058BB")).toBe("length");
    expect(usccProblem("91330100799655O58B")).toBe("characters");
    expect(usccProblem("91330100799655058C")).toBe("check_character");
  });

  it("computes the check character from the first 17", () => {
    expect(usccCheckCharacter("91330100799655058")).toBe("B");
    expect(usccCheckCharacter("9133010079965505")).toBeNull();
  });
});
