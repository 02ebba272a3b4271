import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { langCookie } from "../../app/i18n/locale.server";
import { seedDemoData } from "../../app/seed/demo.server";
import { ROOT } from "../support/build";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { startPaymentsServer, type PaymentsServer } from "../integration/payments.fixtures";

type TestServer = Pick<PaymentsServer, "url" | "close">;

/**
 * The browser sweep: every page a demo user can reach, in real Chromium with JavaScript on, in
 * zh-CN and en, must load, hydrate and take its main form without breaking.
 *
 * For each demo login (the dealer twice: once per organisation) and each language, the sweep opens
 * the pages the top bar (navigation, inbox, API keys) and the dashboard link to, then goes one hop further: from each of
 * those pages, the first link to each kind of page it has not seen yet (a list's first detail),
 * and from a detail page its own sub-pages (a market's tabs, a dispute in its list). On every page it fails on an uncaught page error, a console error, a
 * response of 500 or more, a failed script or stylesheet, or a rendered error boundary
 * (`[data-error-boundary]`, app/components/route-error.tsx). In zh-CN (1440 px wide) it also
 * submits each page's main form once with what the page offers by default (see `submitMainForm`);
 * a 4xx re-render is fine, a 500, a page error or an error boundary is not. In en it runs at
 * 390 px, where nothing may scroll the whole page sideways and no column heading may wrap a
 * character per line.
 *
 * Submitting forms changes the demo data, so the sweep has a database of its own. Pages no demo
 * login can reach by following links are in UNREACHED, with the reason; the last test checks that
 * every page route of app/routes is either swept or listed there.
 */

const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const STEP_TIMEOUT_MS = 30_000;
/** Sweeps that run at once: each is one browser page; the machine has two cores. */
const PARALLEL_SWEEPS = 3;
/** New kinds of page followed from one page: enough for a list's detail and a market's sub-pages. */
const HOPS_PER_PAGE = 12;

interface Login {
  email: string;
  /** Switch to this organisation (top bar) after signing in. */
  organization?: string;
}

const LOGINS: Login[] = [
  { email: "bank@demo.test" },
  { email: "core@demo.test" },
  { email: "dealer@demo.test" },
  { email: "dealer@demo.test", organization: "宁波鑫达电器销售有限公司" },
  { email: "operator@demo.test" },
  { email: "seller@demo.test" },
  { email: "buyer@demo.test" },
];

interface Language {
  locale: "zh-CN" | "en";
  viewport: { width: number; height: number };
  submitForms: boolean;
  /** At phone width: the page may not be wider than the window. */
  checkNoSidewaysScroll: boolean;
}

const LANGUAGES: Language[] = [
  { locale: "zh-CN", viewport: { width: 1440, height: 900 }, submitForms: true, checkNoSidewaysScroll: false },
  { locale: "en", viewport: { width: 390, height: 844 }, submitForms: false, checkNoSidewaysScroll: true },
];

/**
 * Page routes no demo login reaches by following links from its top bar and dashboard, with why.
 * Keys are route files of app/routes.
 */
const UNREACHED: Record<string, string> = {
  "sandbox.epay.bank-statement.$accountNumber.tsx": "the sandbox's stand-in for the receiving bank's statement, an outside service reached by a signed link (sandbox paths are not followed)",
  "sandbox.epay.pay.$gatewayPaymentId.tsx": "the e-Pay sandbox gateway's pay page stands in for an outside service, not the app",
  "invite.$token.tsx": "reached only through the one-time link an invitation sends by e-mail or SMS",
  "join.$campaignId.status.$token.tsx": "the applicant's private status link, issued once when an application is submitted",
  "notifications.$notificationId.tsx": "a notice's address: it only redirects to the notice's subject (the inbox opens it with a form, which the sweep submits)",
  "orders.$orderId_.return.tsx": "offered only on a received order with units left to return: swept when the first order in the dealer's list is one, which depends on the demo data's state",
  "join.$campaignId.deposit.tsx": "reached from an approved applicant's deposit notice; demo data has no application awaiting a deposit",
};

/** Links the sweep never follows: they end the session, change the language or org, download, or leave the app. */
function followable(url: URL, origin: string, hasDownload: boolean): boolean {
  if (url.origin !== origin || hasDownload) return false;
  if (/^\/(logout|set-language|switch-org|sandbox|api)(\/|$)/.test(url.pathname)) return false;
  if (/\.csv$/.test(url.pathname)) return false;
  // File downloads (attachments), not pages.
  if (/\/files\/|\/disputes\/evidence\//.test(url.pathname)) return false;
  return true;
}

/** A page's kind: its path with ids replaced, so a list's second row is not another kind of page. */
function pageKind(pathname: string): string {
  return pathname
    .split("/")
    .map((segment) => (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(segment) || /^\d+$/.test(segment) || segment.length >= 32 ? ":id" : segment))
    .join("/");
}

/** `campaigns.$campaignId._index.tsx` → /^\/campaigns\/[^/]+\/?$/ (Remix flat routes). */
function routeRegExp(file: string): RegExp {
  const name = file.replace(/\.tsx?$/, "");
  const segments = name.split(/\.(?![^[]*\])/).filter((s) => s !== "_index" && !/^_[^.]/.test(s));
  const parts = segments.map((segment) => {
    const s = segment.replace(/_$/, "");
    if (s === "$") return ".*";
    if (s.startsWith("$")) return "[^/]+";
    return s.replace(/\[(.*?)\]/g, "$1").replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  });
  return new RegExp(`^/${parts.join("/")}/?$`);
}

/** Route files that render a page (they have a default export). */
function pageRouteFiles(): string[] {
  const dir = path.join(ROOT, "app", "routes");
  return readdirSync(dir)
    .filter((f) => /\.tsx?$/.test(f))
    .filter((f) => /export default/.test(readFileSync(path.join(dir, f), "utf8")));
}

interface Finding {
  where: string;
  what: string;
}

/** Watches one browser page and keeps what went wrong, labelled with the step it happened in. */
class Watcher {
  step = "start";
  readonly findings: Finding[] = [];

  constructor(
    readonly label: string,
    page: Page,
  ) {
    page.on("pageerror", (error) => this.add(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() !== "error") return;
      // A 4xx answer logs "Failed to load resource"; statuses are judged from the responses below.
      if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())) return;
      this.add(`console error: ${message.text()}`);
    });
    page.on("response", (response) => {
      const status = response.status();
      const type = response.request().resourceType();
      if (status >= 500) this.add(`${status} from ${response.request().method()} ${new URL(response.url()).pathname}`);
      else if (status >= 400 && (type === "script" || type === "stylesheet" || type === "font" || type === "image")) this.add(`${status} for the ${type} ${new URL(response.url()).pathname}`);
    });
    page.on("dialog", (dialog) => void dialog.accept());
  }

  /** SWEEP_TRACE=1 prints each step with its time, to see where a slow or stuck sweep spends it. */
  trace(): void {
    if (!process.env.SWEEP_TRACE) return;
    const now = Date.now();
    process.stderr.write(`${this.label} ${this.step} +${now - this.lastAt}ms\n`);
    this.lastAt = now;
  }
  private lastAt = Date.now();

  add(what: string): void {
    this.findings.push({ where: `${this.label} ${this.step}`, what });
  }
}

/** Until Remix has hydrated, the network is quiet and no navigation or fetcher is under way. */
async function settle(page: Page): Promise<void> {
  await page.waitForLoadState("networkidle", { timeout: STEP_TIMEOUT_MS });
  await page.waitForFunction(
    () => {
      const router = (window as unknown as { __remixRouter?: { state: { navigation: { state: string }; fetchers: Map<string, { state: string }> } } }).__remixRouter;
      return Boolean(router) && router!.state.navigation.state === "idle" && [...router!.state.fetchers.values()].every((f) => f.state === "idle");
    },
    undefined,
    { timeout: STEP_TIMEOUT_MS },
  );
  await page.waitForLoadState("networkidle", { timeout: STEP_TIMEOUT_MS });
}

async function checkPage(page: Page, watcher: Watcher, language: Language): Promise<void> {
  // Read at once (a locator's getAttribute would wait for the element to appear).
  const boundary = await page.evaluate(() => {
    const element = document.querySelector("[data-error-boundary]");
    return element ? { status: element.getAttribute("data-error-boundary"), text: (element.textContent ?? "").trim().slice(0, 200) } : null;
  });
  if (boundary) watcher.add(`error boundary (${boundary.status}): ${boundary.text}`);
  if (language.checkNoSidewaysScroll) {
    const { scrollWidth, innerWidth, squeezedHeaders } = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      // A column heading that wraps about one character per line (three lines or more).
      squeezedHeaders: [...document.querySelectorAll("main th")]
        .map((th) => {
          const chars = (th.textContent ?? "").replace(/\s/g, "").length;
          const lineHeight = parseFloat(getComputedStyle(th).lineHeight) || 20;
          const lines = Math.round((th as HTMLElement).clientHeight / lineHeight);
          return { text: (th.textContent ?? "").trim(), chars, lines };
        })
        .filter((h) => h.chars >= 3 && h.lines >= Math.max(3, h.chars * 0.6))
        .map((h) => h.text),
    }));
    if (scrollWidth > innerWidth) watcher.add(`the page scrolls sideways at ${innerWidth} px: ${scrollWidth} px wide`);
    if (squeezedHeaders.length) watcher.add(`table headings wrap a character per line at ${innerWidth} px: ${squeezedHeaders.join(", ")}`);
  }
}

async function visit(page: Page, watcher: Watcher, language: Language, url: string): Promise<void> {
  watcher.step = `GET ${new URL(url).pathname}${new URL(url).search}`;
  watcher.trace();
  try {
    await page.goto(url, { timeout: STEP_TIMEOUT_MS });
    await settle(page);
  } catch (error) {
    watcher.add(`did not load: ${(error as Error).message.split("\n")[0]}`);
    return;
  }
  await checkPage(page, watcher, language);
}

/** Same-origin links inside <main>, in document order, as absolute URLs. */
async function linksInMain(page: Page, origin: string): Promise<URL[]> {
  const links = await page.$$eval("main a[href]", (anchors) => anchors.map((a) => ({ href: (a as HTMLAnchorElement).href, download: a.hasAttribute("download") })));
  return links.map((l) => ({ url: new URL(l.href), download: l.download })).filter((l) => followable(l.url, origin, l.download)).map((l) => l.url);
}

/**
 * A page's main form: the first `method=post` form inside <main> (the top bar's logout, language
 * and organisation forms are outside it). Submitted once with whatever the page fills in by
 * default, with the browser's own checks off so the server judges it: a 4xx re-render is the
 * expected answer to an empty form. Returns false when the page has no such form.
 */
async function submitMainForm(page: Page, watcher: Watcher, language: Language): Promise<boolean> {
  const path = new URL(page.url()).pathname;
  const submitted = await page.evaluate(() => {
    const form = [...document.querySelectorAll("main form")].find(
      (f): f is HTMLFormElement => (f.getAttribute("method") ?? "get").toLowerCase() === "post" && !/\/(logout|set-language|switch-org)$/.test(f.getAttribute("action") ?? ""),
    );
    if (!form) return null;
    form.noValidate = true;
    const button = form.querySelector<HTMLButtonElement | HTMLInputElement>('button[type="submit"], button:not([type]), input[type="submit"]');
    const label = (button?.textContent || button?.getAttribute("value") || "").trim().slice(0, 40);
    if (button) button.disabled = false;
    form.requestSubmit(button ?? undefined);
    return label;
  });
  if (submitted === null) return false;
  watcher.step = `POST ${path} (${submitted || "form"})`;
  watcher.trace();
  try {
    await page.waitForTimeout(150);
    await settle(page);
  } catch (error) {
    watcher.add(`did not settle after submitting: ${(error as Error).message.split("\n")[0]}`);
    return true;
  }
  await checkPage(page, watcher, language);
  return true;
}

interface SweepResult {
  label: string;
  findings: Finding[];
  visited: string[];
  formsSubmitted: string[];
}

async function sweepAs(browser: Browser, server: TestServer, login: Login | null, language: Language, extraPaths: string[]): Promise<SweepResult> {
  const label = `[${login ? login.email.replace("@demo.test", "") + (login.organization ? `@${login.organization}` : "") : "signed out"} ${language.locale}]`;
  const context: BrowserContext = await browser.newContext({ viewport: language.viewport, locale: language.locale });
  const origin = new URL(server.url).origin;
  const lang = (await langCookie(false).serialize(language.locale)).split(";")[0].split("=");
  await context.addCookies([{ name: lang[0], value: lang.slice(1).join("="), url: server.url }]);
  const page = await context.newPage();
  const watcher = new Watcher(label, page);
  const visited: string[] = [];
  const formsSubmitted: string[] = [];
  try {
    const seenKinds = new Set<string>();
    const toVisit: URL[] = [];
    if (login) {
      await visit(page, watcher, language, `${server.url}/login`);
      watcher.step = "signing in";
      await page.fill('input[name="email"]', login.email);
      await page.fill('input[name="password"]', "demo1234");
      await page.locator('main form button[type="submit"]').first().click();
      await expect.poll(() => new URL(page.url()).pathname, { timeout: STEP_TIMEOUT_MS }).toBe("/");
      await settle(page);
      if (login.organization) {
        watcher.step = `switching to ${login.organization}`;
        await page.selectOption("#org-switcher", { label: login.organization });
        await page.locator(".org-switcher button[type=submit]").click();
        await expect.poll(() => page.locator("#org-switcher option:checked").textContent(), { timeout: STEP_TIMEOUT_MS }).toBe(login.organization);
        await settle(page);
      }
      // Level 0: the navigation's pages and what the dashboard links to.
      watcher.step = `reading the navigation of ${new URL(page.url()).pathname}`;
      const shown = await page.waitForSelector("nav.topnav a[href]", { timeout: STEP_TIMEOUT_MS }).then(
        () => true,
        () => false,
      );
      // The navigation and the top bar's own links (inbox, API keys).
      const nav = await page.$$eval("nav.topnav a[href], .topbar-tools a[href]", (anchors) => anchors.map((a) => (a as HTMLAnchorElement).href));
      if (!shown) {
        const what = await page.evaluate(() => `h1 "${document.querySelector("h1")?.textContent ?? ""}", user "${document.querySelector(".user-name")?.textContent ?? ""}"`);
        watcher.add(`no navigation after signing in (at ${page.url()}: ${what})`);
      }
      for (const href of [...nav, ...(await linksInMain(page, origin)).map((u) => u.href)]) {
        const url = new URL(href);
        if (!followable(url, origin, false)) continue;
        const kind = pageKind(url.pathname);
        if (seenKinds.has(kind)) continue;
        seenKinds.add(kind);
        toVisit.push(url);
      }
    }
    for (const p of extraPaths) {
      seenKinds.add(pageKind(p));
      toVisit.push(new URL(p, server.url));
    }

    const hops: URL[] = [];
    const formKinds = new Set<string>();
    const sweepOne = async (url: URL, followFurther: boolean) => {
      await visit(page, watcher, language, url.href);
      const here = new URL(page.url()).pathname;
      // Both: a redirect (`/market` → the buyer's market) still ran the page asked for.
      visited.push(url.pathname, here);
      let taken = 0;
      for (const link of await linksInMain(page, origin)) {
        const kind = pageKind(link.pathname);
        if (seenKinds.has(kind) || taken >= HOPS_PER_PAGE) continue;
        // Past the first hop, only a detail page's own sub-pages (its tabs, a dispute of its list).
        if (!followFurther && !link.pathname.startsWith(`${here}/`)) continue;
        seenKinds.add(kind);
        hops.push(link);
        taken++;
      }
      const kind = pageKind(new URL(page.url()).pathname);
      if (language.submitForms && !formKinds.has(kind)) {
        formKinds.add(kind);
        if (await submitMainForm(page, watcher, language)) formsSubmitted.push(kind);
      }
    };
    for (const url of toVisit) await sweepOne(url, true);
    // One hop further (and a detail page's sub-pages): `hops` grows while this runs.
    for (let i = 0; i < hops.length; i++) await sweepOne(hops[i], false);
  } catch (error) {
    watcher.add(`sweep stopped: ${(error as Error).message.split("\n")[0]}`);
  } finally {
    await context.close();
  }
  return { label, findings: watcher.findings, visited, formsSubmitted };
}

async function inTurns<T>(jobs: (() => Promise<T>)[], atOnce: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: atOnce }, async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await jobs[i]();
      }
    }),
  );
  return results;
}

describe("browser sweep of every reachable page, with JavaScript, in zh-CN and en", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  let browser: Browser;
  const results: SweepResult[] = [];

  beforeAll(async () => {
    t = await createTestDatabase();
    await seedDemoData(t.db, { password: "demo1234" });
    // The e-Pay sandbox on the app's own port, as `npm start` serves it, so paying forms reach a gateway.
    server = await startPaymentsServer(t.db);
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await t?.close();
  });

  it("every page each demo login reaches loads, hydrates and takes its main form without an error", { timeout: 600_000 }, async () => {
    const campaign = await t.db.selectFrom("recruitment_campaigns").select("id").where("status", "=", "published").orderBy("created_at").executeTakeFirstOrThrow();
    const applied = await t.db.selectFrom("recruitment_applications").select("campaign_id").orderBy("created_at").executeTakeFirstOrThrow();
    const only = process.env.SWEEP_ONLY; // e.g. "core@demo.test" while debugging one login
    // Languages one after the other: the read-only sweeps (en) see the demo data as seeded, before
    // the form-submitting ones (zh-CN) change it, so the pages they reach do not depend on timing.
    for (const language of [...LANGUAGES].sort((a, b) => Number(a.submitForms) - Number(b.submitForms))) {
      const jobs: (() => Promise<SweepResult>)[] = [];
      // Signed out: the login page and the public campaign page (its form too, in zh-CN).
      if (!only) jobs.push(() => sweepAs(browser, server, null, language, ["/login", `/join/${campaign.id}`]));
      for (const login of LOGINS.filter((l) => !only || l.email === only)) {
        // The campaigns' list order does not say which comes first; start from the one with
        // applications, so the application review page is swept every time.
        const extra = login.email === "core@demo.test" ? [`/campaigns/${applied.campaign_id}`] : [];
        jobs.push(() => sweepAs(browser, server, login, language, extra));
      }
      results.push(...(await inTurns(jobs, PARALLEL_SWEEPS)));
    }
    const findings = results.flatMap((r) => r.findings).map((f) => `${f.where}: ${f.what}`);
    expect(findings).toEqual([]);
    // The sweep did sweep: each login saw pages past its dashboard and submitted forms.
    expect(results.filter((r) => r.visited.length <= 2).map((r) => r.label)).toEqual([]);
    expect(results.flatMap((r) => r.formsSubmitted).length).toBeGreaterThan(10);
  });

  it("covers every page route, or says in UNREACHED why it cannot", () => {
    expect(results.length).toBeGreaterThan(0);
    const visited = new Set(results.flatMap((r) => r.visited));
    const unswept = pageRouteFiles()
      .filter((file) => ![...visited].some((p) => routeRegExp(file).test(p)))
      .filter((file) => !(file in UNREACHED));
    expect(unswept).toEqual([]);
  });
});
