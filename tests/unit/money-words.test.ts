import { describe, expect, it } from "vitest";
import { yuanInWords } from "../../app/domain/shared/money-words";

/*
 * Each expected text worked by hand from the rules for bills (see money-words.ts):
 * 零 once per run of zeros between two non-zero digits (also across a 万/亿 section of zeros and
 * across 元), nothing for trailing zeros, 整 only when both 角 and 分 are zero.
 */
describe("yuanInWords (人民币大写金额)", () => {
  it.each([
    [0, "零元整"],
    [1, "壹分"],
    [10, "壹角"],
    [11, "壹角壹分"],
    [100, "壹元整"],
    [101, "壹元零壹分"],
    [110, "壹元壹角"],
    [1_000, "壹拾元整"],
    // A zero 元 digit before the 角 is a gap too.
    [1_010, "壹拾元零壹角"],
    [1_500, "壹拾伍元整"],
    [10_000, "壹佰元整"],
    [100_000, "壹仟元整"],
    [168_032, "壹仟陆佰捌拾元零叁角贰分"],
    [500_000, "伍仟元整"],
    // ¥5,054.38: a zero hundreds digit between 伍仟 and 伍拾.
    [505_438, "伍仟零伍拾肆元叁角捌分"],
    [1_000_000, "壹万元整"],
    // ¥10,500: the gap crosses the 万 boundary.
    [1_050_000, "壹万零伍佰元整"],
    [1_500_000, "壹万伍仟元整"],
    // ¥107,000.53: a zero 万 digit, then a zero 元 digit: two gaps, two 零.
    [10_700_053, "壹拾万零柒仟元零伍角叁分"],
    // ¥1,000,000.01: trailing zeros write nothing, then 零 for the zero 角.
    [100_000_001, "壹佰万元零壹分"],
    // ¥10,050,000: 零 inside the 万 section.
    [1_005_000_000, "壹仟零伍万元整"],
    // ¥12,345,678.90
    [1_234_567_890, "壹仟贰佰叁拾肆万伍仟陆佰柒拾捌元玖角"],
    // ¥100,000,000
    [10_000_000_000, "壹亿元整"],
    // ¥100,010,000: the 万 section 0001 after 壹亿.
    [10_001_000_000, "壹亿零壹万元整"],
    // ¥100,000,001: a whole 万 section of zeros is one 零 and no 万.
    [10_000_000_100, "壹亿零壹元整"],
    // ¥999,999,999,999.99, the largest accepted.
    [99_999_999_999_999, "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"],
  ])("%d fen → %s", (fen, words) => {
    expect(yuanInWords(fen)).toBe(words);
  });

  it.each([-1, 0.5, Number.NaN, 100_000_000_000_000, Number.MAX_SAFE_INTEGER + 1])("refuses %d", (fen) => {
    expect(() => yuanInWords(fen)).toThrow(RangeError);
  });
});
