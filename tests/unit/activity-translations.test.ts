import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { en, zhCN } from "../../app/i18n/messages";
import { MACHINERY_AUDIT_ACTIONS } from "../../app/domain/shared/audit.server";
import { MARKET_ORDER_TRANSITIONS } from "../../app/domain/market/order-states";
import { STALL_TRANSITIONS } from "../../app/domain/market/venues.server";
import { ORDER_EVENTS } from "../../app/domain/orders/states";
import { CAMPAIGN_TRANSITIONS } from "../../app/domain/recruitment/recruitment.server";
import { APPLICATION_EVENTS } from "../../db/schema";
import { FINANCING_EVENTS } from "../../app/domain/financing/internal.server";

/**
 * Every audit action the code writes has a name in both languages, so the activity feed never
 * shows `market_merchant.created`. The actions are read from the source itself (every `action:`
 * given to the audit helpers in the domain, the workflows and the jobs), not from a list someone
 * has to remember to update.
 */

const ROOT = join(__dirname, "../..");
const SCANNED = ["app/domain", "app/web", "app/seed", "app/sandbox", "workflows", "jobs"];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) ? [path] : [];
  });
}

/**
 * An action built at run time, by its template as written in the source, and what it can become
 * (read from the state machine that feeds it). A new template fails the test until it is listed.
 */
const TEMPLATES: Record<string, readonly string[]> = {
  "order.${event}": ORDER_EVENTS.map((e) => `order.${e}`),
  "order.${plan.event}": ORDER_EVENTS.map((e) => `order.${e}`),
  "market_order.${e.event}": [...new Set(Object.values(MARKET_ORDER_TRANSITIONS).flatMap((events) => Object.keys(events)))].map((e) => `market_order.${e}`),
  "recruitment_campaign.${to}": [...new Set(Object.values(CAMPAIGN_TRANSITIONS).flatMap((events) => Object.values(events)))].map((s) => `recruitment_campaign.${s}`),
  "recruitment_application.${input.event}": APPLICATION_EVENTS.map((e) => `recruitment_application.${e}`),
  "financing.${e.event}": FINANCING_EVENTS.map((e) => `financing.${e}`),
  "market_stall.${event}": [...new Set(Object.values(STALL_TRANSITIONS).flatMap((events) => Object.keys(events)))].map((e) => `market_stall.${e}`),
};

/** `action:` occurrences that are not an audit action being written (types, the helper's own pass-through, a read). */
const NOT_WRITERS = [/^string\b/, /^ActionName\b/, /^entry\.action\b/, /^r\.action\b/];

interface Found {
  actions: Set<string>;
  unreadable: string[];
  unknownTemplates: string[];
}

function scan(): Found {
  const found: Found = { actions: new Set(), unreadable: [], unknownTemplates: [] };
  for (const dir of SCANNED) {
    for (const file of sourceFiles(join(ROOT, dir))) {
      const lines = readFileSync(file, "utf8").split("\n");
      lines.forEach((line, i) => {
        const match = /\baction\??:\s*(.+)$/.exec(line);
        if (!match || /^\s*(\/\/|\/\*|\*)/.test(line)) return;
        const expression = match[1].trim();
        if (NOT_WRITERS.some((re) => re.test(expression))) return;
        const where = `${relative(ROOT, file)}:${i + 1}`;
        const literals = [...expression.matchAll(/"([a-z_]+\.[a-z_.]+)"/g)].map((m) => m[1]);
        const templates = [...expression.matchAll(/`([^`]*\$\{[^`]*)`/g)].map((m) => m[1]);
        if (literals.length === 0 && templates.length === 0) {
          found.unreadable.push(`${where}: ${expression}`);
          return;
        }
        for (const literal of literals) found.actions.add(literal);
        for (const template of templates) {
          const expansion = TEMPLATES[template];
          if (!expansion) found.unknownTemplates.push(`${where}: \`${template}\``);
          else for (const action of expansion) found.actions.add(action);
        }
      });
    }
  }
  return found;
}

describe("the activity feed's event names", () => {
  const found = scan();

  it("reads every audit action the source writes (a literal, a choice of literals, or a known template)", () => {
    expect(found.unreadable, "an action the scan cannot read: write it as a literal or add its template to TEMPLATES").toEqual([]);
    expect(found.unknownTemplates, "a new action template: list what it expands to in TEMPLATES").toEqual([]);
    // The scan sees the writers it must: one of each form, so a broken regex cannot pass by finding nothing.
    for (const action of ["market_merchant.created", "merchant_application.approved", "payment.succeeded", "order.release", "market_order.rule_refund_partial", "notification.delivered"]) {
      expect(found.actions, action).toContain(action);
    }
  });

  it("has a zh-CN and an English name for every action written", () => {
    const missing = [...found.actions].filter((action) => !(MACHINERY_AUDIT_ACTIONS as readonly string[]).includes(action)).sort().filter((action) => {
      const key = `audit.${action}`;
      return !(key in zhCN) || !(key in en) || (zhCN as Record<string, string>)[key].trim() === "" || (en as Record<string, string>)[key].trim() === "";
    });
    expect(missing).toEqual([]);
  });

  it("names the events in words, not codes: no English name is the action itself, and the two languages differ", () => {
    for (const action of found.actions) {
      const key = `audit.${action}` as keyof typeof zhCN;
      if (!(key in zhCN)) continue;
      expect(en[key]).not.toBe(action);
      expect(zhCN[key]).not.toMatch(/^[a-z_.]+$/);
      expect(zhCN[key]).not.toBe(en[key]);
    }
  });

  it("leaves the machinery out of the feed only by name: each machinery action is one the code writes", () => {
    for (const action of MACHINERY_AUDIT_ACTIONS) expect(found.actions).toContain(action);
  });
});
