/**
 * Unified Social Credit Code (统一社会信用代码), GB 32100-2015: 18 characters from the 31-symbol
 * alphabet below (no I, O, Z, S, V); the last is a check character over the first 17.
 */
const ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

export function usccCheckCharacter(first17: string): string | null {
  if (first17.length !== 17) return null;
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const value = ALPHABET.indexOf(first17[i]);
    if (value < 0) return null;
    sum += value * WEIGHTS[i];
  }
  return ALPHABET[(31 - (sum % 31)) % 31];
}

export type UsccProblem = "length" | "characters" | "check_character";

/** Returns null when valid, or what is wrong with it. Input is upper-cased and trimmed first. */
export function usccProblem(raw: string): UsccProblem | null {
  const code = normalizeUscc(raw);
  if (code.length !== 18) return "length";
  for (const ch of code) if (!ALPHABET.includes(ch)) return "characters";
  return usccCheckCharacter(code.slice(0, 17)) === code[17] ? null : "check_character";
}

export function isValidUscc(raw: string): boolean {
  return usccProblem(raw) === null;
}

export function normalizeUscc(raw: string): string {
  return raw.trim().toUpperCase();
}

export const USCC_MESSAGES: Record<UsccProblem, { en: string; zh: string }> = {
  length: {
    en: "Unified Social Credit Code must be 18 characters",
    zh: "统一社会信用代码应为18位",
  },
  characters: {
    en: "Unified Social Credit Code may use digits and capital letters except I, O, Z, S, V",
    zh: "统一社会信用代码只能包含数字和大写字母（不含 I、O、Z、S、V）",
  },
  check_character: {
    en: "Unified Social Credit Code check character is wrong: please re-check the code",
    zh: "统一社会信用代码校验位不正确，请核对",
  },
};
