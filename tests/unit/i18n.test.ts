import { describe, expect, it } from "vitest";
import { formatFen, localeFromAcceptLanguage, translate, translateWithParams } from "../../app/i18n";
import { en, zhCN } from "../../app/i18n/messages";

describe("formatFen", () => {
  it.each([
    [0, "¥0.00"],
    [5, "¥0.05"],
    [100, "¥1.00"],
    [123456, "¥1,234.56"],
    [-123456, "-¥1,234.56"],
    [100_000_000_00, "¥100,000,000.00"],
    // The largest safe integer still formats exactly: no float ever touches the digits.
    [9_007_199_254_740_991, "¥90,071,992,547,409.91"],
  ])("shows %i fen as %s", (fen, shown) => {
    expect(formatFen(fen, "zh-CN")).toBe(shown);
    expect(formatFen(fen, "en")).toBe(shown);
  });

  it("refuses anything that is not a whole number of fen", () => {
    expect(() => formatFen(12.5)).toThrow(RangeError);
    expect(() => formatFen(Number.NaN)).toThrow(RangeError);
    expect(() => formatFen(2 ** 53)).toThrow(RangeError);
  });
});

describe("message catalogues", () => {
  const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

  it("have the same keys in zh-CN and English", () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(zhCN).sort());
  });

  it("use the same placeholders in both languages for every key", () => {
    const drift = Object.entries(zhCN).filter(
      ([key, text]) => placeholders(text).join(",") !== placeholders(en[key as keyof typeof en]).join(","),
    );
    expect(drift.map(([key]) => key)).toEqual([]);
  });

  it("fills placeholders and leaves unknown ones visible", () => {
    expect(translate("zh-CN", "login.throttled", { minutes: 7 })).toBe("尝试次数过多，请 7 分钟后再试");
    expect(translate("en", "login.throttled", { minutes: 7 })).toBe("Too many attempts, try again in 7 minutes");
    expect(translateWithParams("en", "flash.switchedOrg")).toBe("Switched to {name}");
  });
});

describe("localeFromAcceptLanguage", () => {
  it.each([
    ["zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"],
    ["en-US,en;q=0.9", "en"],
    ["fr-FR,en;q=0.5,zh;q=0.7", "zh-CN"],
    ["en;q=0.2, zh-TW;q=0.1", "en"],
    ["fr-FR", null],
    ["", null],
  ])("reads %j as %s", (header, locale) => {
    expect(localeFromAcceptLanguage(header)).toBe(locale);
  });
});
