import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { formatDate, formatDateTime, formatPercentBps } from "../../app/i18n";

/**
 * One format per locale for dates, times and percentages, everywhere:
 *   zh-CN  2027-01-06      2026-12-07 20:02
 *   en     6 Jan 2027      7 Dec 2026, 20:02
 *   both   3%  2.5%  12.34%
 * and a scan of every route and component that fails when one formats a date or a percentage
 * another way (toLocale…, Intl, toISOString().slice, Date getters, "{…}%").
 */

describe("formatDate", () => {
  it.each([
    ["2027-01-06", "2027-01-06", "6 Jan 2027"],
    ["2026-12-31", "2026-12-31", "31 Dec 2026"],
    ["2024-02-29", "2024-02-29", "29 Feb 2024"],
  ])("shows the business date %s as the calendar day it names", (value, zh, en) => {
    expect(formatDate(value, "zh-CN")).toBe(zh);
    expect(formatDate(value, "en")).toBe(en);
  });

  it("shows an instant as its Asia/Shanghai calendar day", () => {
    // 16:00 UTC on 31 Dec is already midnight, 1 Jan, in Shanghai.
    expect(formatDate(new Date("2026-12-31T15:59:59Z"), "zh-CN")).toBe("2026-12-31");
    expect(formatDate(new Date("2026-12-31T16:00:00Z"), "zh-CN")).toBe("2027-01-01");
    expect(formatDate(new Date("2026-12-31T16:00:00Z"), "en")).toBe("1 Jan 2027");
    expect(formatDate("2026-12-31T16:00:00.000Z", "en")).toBe("1 Jan 2027");
  });
});

describe("formatDateTime", () => {
  it("shows an instant in Asia/Shanghai to the minute, one format per locale", () => {
    const at = new Date("2026-12-07T12:02:30Z");
    expect(formatDateTime(at, "zh-CN")).toBe("2026-12-07 20:02");
    expect(formatDateTime(at, "en")).toBe("7 Dec 2026, 20:02");
    expect(formatDateTime(at.toISOString(), "en")).toBe("7 Dec 2026, 20:02");
    expect(formatDateTime(new Date("2026-12-31T16:05:00Z"), "zh-CN")).toBe("2027-01-01 00:05");
    expect(formatDateTime(new Date("2027-03-01T09:00:00Z"), "en")).toBe("1 Mar 2027, 17:00");
  });
});

describe("formatPercentBps", () => {
  it.each([
    [0, "0%"],
    [5, "0.05%"],
    [50, "0.5%"],
    [250, "2.5%"],
    [300, "3%"],
    [1234, "12.34%"],
    [1300, "13%"],
    [10_000, "100%"],
    [-250, "-2.5%"],
  ])("shows %i bps as %s in both languages", (bps, shown) => {
    expect(formatPercentBps(bps, "zh-CN")).toBe(shown);
    expect(formatPercentBps(bps, "en")).toBe(shown);
  });

  it("refuses anything that is not whole basis points", () => {
    expect(() => formatPercentBps(2.5)).toThrow(RangeError);
    expect(() => formatPercentBps(Number.NaN)).toThrow(RangeError);
  });
});

describe("no route or component formats a date or a percentage its own way", () => {
  const root = path.resolve(__dirname, "../../app");
  const files = ["routes", "components"].flatMap((dir) =>
    readdirSync(path.join(root, dir), { recursive: true, encoding: "utf8" })
      .filter((f) => /\.tsx?$/.test(f))
      .map((f) => path.join(dir, f)),
  );

  const FORBIDDEN: [RegExp, string][] = [
    [/\.toLocale(Date|Time)?String\(/, "toLocale…String: use formatDate / formatDateTime from ~/i18n"],
    [/new Intl\.DateTimeFormat\(/, "Intl.DateTimeFormat: use formatDate / formatDateTime from ~/i18n"],
    [/toISOString\(\)\.slice\(/, "toISOString().slice: use formatDate (or shanghaiDate for a business date)"],
    [/\.get(UTC)?(FullYear|Month|Date|Hours|Minutes)\(\)/, "Date getters: use formatDate / formatDateTime from ~/i18n"],
    [/bpsToPercentText\(/, "bpsToPercentText is a form value, not a display: use formatPercentBps from ~/i18n"],
    [/\}%\s*</, "\"{…}%\" in markup: use formatPercentBps from ~/i18n"],
    [/\}%[`"]/, "\"${…}%\" in text: use formatPercentBps from ~/i18n"],
  ];
  /** Each exception, with the reason it is not a date shown to a reader as a date. */
  const ALLOWED: Record<string, RegExp[]> = {
    // A chart's axis tick ("3月5日", "5 Mar"): deliberately shorter than a date; the table beside
    // the chart shows each day with formatDate.
    [path.join("components", "market-charts.tsx")]: [/new Intl\.DateTimeFormat\(/],
  };

  it("finds the files it scans", () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files).toContain(path.join("routes", "accounts.$accountId.tsx"));
  });

  it.each(files)("%s formats dates and percentages through ~/i18n", (file) => {
    const source = readFileSync(path.join(root, file), "utf8");
    const problems = source.split("\n").flatMap((line, i) =>
      FORBIDDEN.filter(([pattern]) => pattern.test(line) && !(ALLOWED[file] ?? []).some((allowed) => allowed.source === pattern.source)).map(
        ([, why]) => `${file}:${i + 1}: ${why}\n    ${line.trim()}`,
      ),
    );
    expect(problems).toEqual([]);
  });
});
