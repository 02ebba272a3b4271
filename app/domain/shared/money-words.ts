/**
 * An amount of fen in Chinese uppercase (人民币大写金额), as contracts and bills write it, following
 * the People's Bank's rules for filling in bills (正确填写票据和结算凭证的基本规定):
 * - Digits 零壹贰叁肆伍陆柒捌玖, units 拾佰仟, 万, 亿, then 元角分.
 * - 整 ends an amount with no 角 and no 分 (壹仟元整); after 角 or 分 nothing follows (…玖角, …捌分).
 * - A leading 1 keeps its digit: 壹拾元整, not 拾元整.
 * - One rule for 零: each run of zeros between two non-zero digits writes one 零, wherever it falls
 *   (伍仟零伍拾肆, 壹万零伍佰, 壹拾万零柒仟, 壹亿零壹元 across a 万 section of zeros, 壹元零壹分 for a zero
 *   角, 壹拾元零壹角 for a zero 元 digit); zeros with no non-zero digit after them write nothing
 *   (壹佰万元整, 伍仟元整). Where a zero 万 or 元 digit makes 零 optional (the rules accept both
 *   壹拾万零柒仟 and 壹拾万柒仟), the one rule writes it, so the form never depends on the position.
 * - Less than one yuan has no yuan part (壹分, 壹角); nothing at all is 零元整.
 * Integer arithmetic only. Bounded below 1万亿 yuan (10^14 fen): beyond that the section units
 * would need 万亿, which no amount on the platform comes near.
 */

const DIGITS = ["零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"] as const;
const SMALL_UNITS = ["", "拾", "佰", "仟"] as const;
const SECTION_UNITS = ["", "万", "亿"] as const;

export const YUAN_IN_WORDS_MAX_FEN = 99_999_999_999_999;

/** Whole yuan (1 ≤ yuan < 10^12) in uppercase, without 元. */
function integerWords(yuan: number): string {
  const digits = String(yuan);
  let out = "";
  let zeroPending = false;
  for (let i = 0; i < digits.length; i++) {
    const position = digits.length - 1 - i;
    const digit = Number(digits[i]);
    if (digit !== 0) {
      if (zeroPending) out += DIGITS[0];
      zeroPending = false;
      out += DIGITS[digit] + SMALL_UNITS[position % 4];
    } else if (out !== "") {
      zeroPending = true;
    }
    if (position > 0 && position % 4 === 0) {
      // The section's unit (万, 亿) is written when any of its four digits is non-zero.
      const section = digits.slice(Math.max(0, i - 3), i + 1);
      if (/[1-9]/.test(section)) out += SECTION_UNITS[position / 4];
    }
  }
  return out;
}

/** 505,438 fen → 伍仟零伍拾肆元叁角捌分; 100,000 fen → 壹仟元整; 0 → 零元整. */
export function yuanInWords(fen: number): string {
  if (!Number.isSafeInteger(fen) || fen < 0 || fen > YUAN_IN_WORDS_MAX_FEN) {
    throw new RangeError(`yuanInWords expects integer fen 0..${YUAN_IN_WORDS_MAX_FEN}, got ${fen}`);
  }
  if (fen === 0) return "零元整";
  const fenDigit = fen % 10;
  const jiao = ((fen - fenDigit) / 10) % 10;
  const yuan = (fen - jiao * 10 - fenDigit) / 100;
  const yuanPart = yuan > 0 ? `${integerWords(yuan)}元` : "";
  if (jiao === 0 && fenDigit === 0) return `${yuanPart}整`;
  // A zero 角 between 元 and 分, or a zero 元 digit before the 角, is a gap: one 零.
  const gapBeforeJiao = yuan > 0 && yuan % 10 === 0;
  const jiaoPart = jiao > 0 ? `${gapBeforeJiao ? DIGITS[0] : ""}${DIGITS[jiao]}角` : yuan > 0 ? DIGITS[0] : "";
  const fenPart = fenDigit > 0 ? `${DIGITS[fenDigit]}分` : "";
  return yuanPart + jiaoPart + fenPart;
}
