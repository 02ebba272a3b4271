import { ESLint } from "eslint";
import tseslint from "typescript-eslint";
import { describe, expect, it } from "vitest";
import rongtong from "../../eslint/no-server-values-in-render.js";
import { ROOT } from "../support/build";

/**
 * The lint rule that keeps values from `*.server` modules out of the code the browser runs: in the
 * browser bundle those modules are empty, so such a value is `undefined` once the page hydrates.
 * Each case is a small route or component source linted through ESLint's Node API with the rule
 * on, as `npm run lint` runs it.
 */

async function lint(code: string, filePath: string, mode: "route" | "shared"): Promise<{ line: number; name: string; message: string }[]> {
  const eslint = new ESLint({
    cwd: ROOT,
    overrideConfigFile: true,
    overrideConfig: [
      {
        files: ["**/*.{ts,tsx}"],
        languageOptions: { parser: tseslint.parser, parserOptions: { ecmaFeatures: { jsx: true } } },
        plugins: { rongtong },
        rules: { "rongtong/no-server-values-in-render": ["error", { mode }] },
      },
    ],
  });
  const [result] = await eslint.lintText(code, { filePath });
  return result.messages.map((m) => {
    if (!m.ruleId) throw new Error(`fixture does not parse: ${m.message}`);
    const name = /^'([^']+)'/.exec(m.message)?.[1] ?? "";
    return { line: m.line, name, message: m.message };
  });
}

const route = (code: string) => lint(code, "app/routes/fixture.tsx", "route");
const shared = (code: string) => lint(code, "app/components/fixture.tsx", "shared");

describe("no-server-values-in-render in a route module", () => {
  it("flags the /catalog bug: a .server helper called by the page component", async () => {
    const problems = await route(`
      import { useLoaderData } from "@remix-run/react";
      import { bpsToPercentText, listSkus } from "~/domain/catalog/catalog.server";
      export async function loader() {
        return { skus: await listSkus() };
      }
      export default function CatalogIndex() {
        const { skus } = useLoaderData<typeof loader>();
        return <ul>{skus.map((s) => <li key={s.id}>{bpsToPercentText(s.taxRateBps)}%</li>)}</ul>;
      }
    `);
    expect(problems.map((p) => [p.name, p.line])).toEqual([["bpsToPercentText", 9]]);
    expect(problems[0].message).toContain("default export");
    expect(problems[0].message).toContain("~/domain/catalog/catalog.server");
  });

  it("accepts the same helper used by the loader only, and by functions only the loader and action call", async () => {
    const problems = await route(`
      import { useLoaderData } from "@remix-run/react";
      import { bpsToPercentText, listSkus, parseWholeNumber } from "~/domain/catalog/catalog.server";
      function row(s) {
        return { id: s.id, taxRateText: bpsToPercentText(s.taxRateBps) };
      }
      export async function loader() {
        return { skus: (await listSkus()).map(row) };
      }
      export const action = async ({ request }) => {
        const form = await request.formData();
        return { quantity: parseWholeNumber(String(form.get("quantity"))) };
      };
      export default function CatalogIndex() {
        const { skus } = useLoaderData<typeof loader>();
        return <ul>{skus.map((s) => <li key={s.id}>{s.taxRateText}%</li>)}</ul>;
      }
    `);
    expect(problems).toEqual([]);
  });

  it("flags a helper that the component calls, naming where it is reached from", async () => {
    const problems = await route(`
      import { bpsToPercentText } from "~/models/catalog.server";
      function percent(bps) {
        return bpsToPercentText(bps) + "%";
      }
      export async function loader() { return { bps: 1300, text: percent(1300) }; }
      export default function Page() { return <p>{percent(900)}</p>; }
    `);
    expect(problems.map((p) => p.name)).toEqual(["bpsToPercentText"]);
    expect(problems[0].message).toContain("reached from the default export");
  });

  it("flags the /join bug: a .server constant spread at module scope, which runs when the page loads", async () => {
    const problems = await route(`
      import { APPLICATION_FORM_FIELDS, submitApplication } from "~/domain/recruitment/recruitment.server";
      const FORM_FIELDS = [...APPLICATION_FORM_FIELDS, "channels"];
      export async function action() { return submitApplication(FORM_FIELDS); }
      export default function Join() { return <form method="post" />; }
    `);
    expect(problems.map((p) => [p.name, p.line])).toEqual([["APPLICATION_FORM_FIELDS", 3]]);
    expect(problems[0].message).toContain("module scope");
  });

  it("flags meta, links, ErrorBoundary and handle as browser code", async () => {
    const problems = await route(`
      import { pageTitleFor, cssHref, describeError, crumb } from "~/models/thing.server";
      export const meta = () => [{ title: pageTitleFor("x") }];
      export const links = () => [{ rel: "stylesheet", href: cssHref }];
      export function ErrorBoundary() { return <p>{describeError()}</p>; }
      export const handle = { crumb: () => crumb() };
      export default function Page() { return null; }
    `);
    expect(problems.map((p) => p.name).sort()).toEqual(["crumb", "cssHref", "describeError", "pageTitleFor"]);
  });

  it("accepts type-only imports and a validation schema whose callbacks only the action runs", async () => {
    const problems = await route(`
      import { z } from "zod";
      import type { Sku } from "~/domain/catalog/catalog.server";
      import { parseWholeNumber, type Fen } from "~/domain/catalog/catalog.server";
      const quantity = z.string().refine((v) => parseWholeNumber(v) !== null);
      const Form = z.object({ quantity });
      export async function action({ request }) {
        const parsed = Form.parse(Object.fromEntries(await request.formData()));
        const fen: Fen = 1;
        return { parsed, fen };
      }
      export default function Page(props: { sku: Sku }) { return <p>{props.sku.code}</p>; }
    `);
    expect(problems).toEqual([]);
  });

  it("flags that schema once the component validates with it in the browser", async () => {
    const problems = await route(`
      import { z } from "zod";
      import { parseWholeNumber } from "~/domain/catalog/catalog.server";
      const quantity = z.string().refine((v) => parseWholeNumber(v) !== null);
      export default function Page() { return <p>{String(quantity.safeParse("3").success)}</p>; }
    `);
    expect(problems.map((p) => p.name)).toEqual(["parseWholeNumber"]);
  });

  it("flags a .server value mapped over at module scope: the callback runs on load", async () => {
    const problems = await route(`
      import { SALES_CHANNELS, channelLabel } from "~/domain/recruitment/recruitment.server";
      const OPTIONS = SALES_CHANNELS.map((c) => channelLabel(c));
      export default function Page() { return <p>{OPTIONS.length}</p>; }
    `);
    expect(problems.map((p) => p.name).sort()).toEqual(["SALES_CHANNELS", "channelLabel"]);
  });

  it("accepts resource routes that build loader and action from .server helpers", async () => {
    const problems = await route(`
      import { apiRoute, implement } from "~/api/handler.server";
      import * as orders from "~/domain/orders/orders.server";
      export const { loader, action } = apiRoute(implement({}, async ({ db }) => orders.list(db)));
    `);
    expect(problems).toEqual([]);
  });

  it("flags re-exporting a .server value under a name the browser keeps", async () => {
    const problems = await route(`
      export { loader } from "~/models/thing.server";
      export { default } from "~/models/page.server";
    `);
    expect(problems.map((p) => p.message)).toEqual([expect.stringContaining("Re-exporting 'default'")]);
  });
});

describe("no-server-values-in-render in a component module", () => {
  it("refuses any value import from a .server module, and accepts type imports", async () => {
    const problems = await shared(`
      import type { Sku } from "~/domain/catalog/catalog.server";
      import { bpsToPercentText, type Fen } from "~/domain/catalog/catalog.server";
      export function TaxRate({ sku }: { sku: Sku; total: Fen }) { return <td>{bpsToPercentText(sku.taxRateBps)}%</td>; }
    `);
    expect(problems.map((p) => [p.name, p.line])).toEqual([["bpsToPercentText", 3]]);
  });
});
