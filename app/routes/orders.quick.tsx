import {
  data,
  MaxPartSizeExceededError,
  redirect,
  unstable_createMemoryUploadHandler,
  unstable_parseMultipartFormData,
  type ActionFunctionArgs,
  type LinksFunction,
  type LoaderFunctionArgs,
  type MetaFunction,
} from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { parse as parseCsv, CsvError } from "csv-parse/sync";
import { z } from "zod";
import { CsrfInput } from "~/components/csrf-input";
import { ActionError, useOrderProblem } from "~/components/order-ui";
import { RouteError } from "~/components/route-error";
import { SelectField, TextField } from "~/components/supply-ui";
import { formatInteger } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { bpsToPercentText, parseWholeNumber } from "~/models/catalog.server";
import { listSuppliersForDealer } from "~/models/dealers.server";
import { isDomainError } from "~/models/errors";
import { createOrder, getOrder, listSeasons, ORDER_LIMITS } from "~/models/orders.server";
import { domainFailure, requireDealer } from "~/models/supply-chain-access.server";
import { requireUuidParam, scoped } from "~/models/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import ordersStyles from "~/styles/orders.css";
import supplyStyles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: supplyStyles },
  { rel: "stylesheet", href: ordersStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "orders.quickTitle");

const MAX_BYTES = ORDER_LIMITS.maxQuickOrderBytes; // 256 KiB, pasted or uploaded
const MAX_LINES = ORDER_LIMITS.maxLines; // 200
/** The whole request: the lines (twice at most: pasted and a file) and a few short fields. */
const MAX_REQUEST_BYTES = 2 * MAX_BYTES + 64 * 1024;

async function supplierChoices(db: LoaderFunctionArgs["context"]["db"], dealerId: string) {
  const suppliers = (await listSuppliersForDealer(db, dealerId)).filter((s) => s.status === "active");
  const seasons = [];
  for (const s of suppliers) {
    for (const season of await listSeasons(db, s.coreEnterpriseId)) {
      if (season.status === "open") {
        seasons.push({ id: season.id, name: season.name, supplierId: s.coreEnterpriseId, supplierName: s.coreName, depositPercent: bpsToPercentText(season.deposit_rate_bps) });
      }
    }
  }
  return { suppliers: suppliers.map((s) => ({ id: s.coreEnterpriseId, name: s.coreName, nameEn: s.coreNameEn })), seasons };
}

export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organizationId } = await requireDealer(request, context);
  const { suppliers, seasons } = await supplierChoices(context.db, organizationId);
  const reorderId = new URL(request.url).searchParams.get("reorder");
  let prefill: { supplierId: string; lines: string; number: string } | null = null;
  if (reorderId) {
    // Only the dealer's own orders: another organisation's id is a 404, like an unknown one.
    const past = await scoped(() => getOrder(context.db, organizationId, requireUuidParam(reorderId)));
    prefill = {
      supplierId: past.order.core_enterprise_id,
      number: past.order.number,
      lines: past.lines.map((l) => `${l.sku_code},${l.quantity_confirmed || l.quantity_ordered}`).join("\n"),
    };
  }
  return { suppliers, seasons, prefill, maxLines: MAX_LINES, maxKiB: MAX_BYTES / 1024 };
}

// ---------------------------------------------------------------------------------------------
// Parsing the lines: `SKU,qty` per line (comma, full-width comma, semicolon or tab), an optional
// header row, blank lines skipped. Every problem is kept with its line number in the source.

export interface LineProblem {
  line: number;
  sku: string;
  quantity: string;
  field: "sku" | "quantity" | "line";
  problem: string;
}

interface ParsedLine {
  line: number;
  skuCode: string;
  quantity: number;
}

const HEADER = /^(sku|sku[ _]?code|code|编码|sku编码|商品编码|货号)$/i;

function parseLines(text: string): { lines: ParsedLine[]; problems: LineProblem[]; tooMany: boolean } {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parseCsv(text, {
      bom: true,
      trim: true,
      relax_column_count: true,
      skip_empty_lines: true,
      skip_records_with_empty_values: true,
      delimiter: [",", "，", ";", "\t"],
      info: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (error) {
    if (error instanceof CsvError) {
      const line = Number((error as CsvError & { lines?: number }).lines ?? 0);
      return { lines: [], problems: [{ line, sku: "", quantity: "", field: "line", problem: "orders.problem.csvSyntax" }], tooMany: false };
    }
    throw error;
  }
  if (records.length > 0 && HEADER.test(records[0].record[0] ?? "") && parseWholeNumber(records[0].record[1] ?? "") === null) records = records.slice(1);
  if (records.length > MAX_LINES) return { lines: [], problems: [], tooMany: true };
  const lines: ParsedLine[] = [];
  const problems: LineProblem[] = [];
  for (const { record, info } of records) {
    const [skuCode = "", quantityText = "", ...rest] = record;
    const base = { line: info.lines, sku: skuCode.slice(0, 64), quantity: quantityText.slice(0, 20) };
    if (rest.some((cell) => cell !== "")) {
      problems.push({ ...base, field: "line", problem: "orders.problem.extraCells" });
      continue;
    }
    if (!skuCode) {
      problems.push({ ...base, field: "sku", problem: "orders.problem.missingSku" });
      continue;
    }
    const quantity = parseWholeNumber(quantityText);
    if (quantity === null || quantity < 1 || quantity > 1_000_000_000) {
      problems.push({ ...base, field: "quantity", problem: quantityText ? "orders.problem.wholeNumber" : "orders.problem.missingQuantity" });
      continue;
    }
    lines.push({ line: info.lines, skuCode, quantity });
  }
  return { lines, problems, tooMany: false };
}

// ---------------------------------------------------------------------------------------------

const QuickForm = z.object({
  core_enterprise_id: z.string({ required_error: "orders.problem.chooseSupplier" }).regex(/^[0-9a-f-]{36}$/i, "orders.problem.chooseSupplier"),
  kind: z.enum(["replenishment", "preorder"], { errorMap: () => ({ message: "orders.problem.chooseKind" }) }),
  season_id: z.string().optional(),
  note: z.string().trim().max(ORDER_LIMITS.maxNoteChars, "field.tooLong").optional(),
});

interface QuickFailure {
  fieldErrors: Record<string, string>;
  formError: string | null;
  lineProblems: LineProblem[];
  values: Record<string, string>;
  source: "file" | "text";
}

class RequestTooLarge extends Error {}

/** The form, as multipart (with a file) or urlencoded, each part capped: nothing unbounded is read. */
async function readForm(request: Request): Promise<FormData> {
  const length = Number(request.headers.get("Content-Length") ?? "0");
  if (length > MAX_REQUEST_BYTES) throw new RequestTooLarge();
  if ((request.headers.get("Content-Type") ?? "").startsWith("multipart/form-data")) {
    try {
      return await unstable_parseMultipartFormData(request, unstable_createMemoryUploadHandler({ maxPartSize: MAX_BYTES }));
    } catch (error) {
      if (error instanceof MaxPartSizeExceededError) throw new RequestTooLarge();
      throw new Response("The form could not be read", { status: 400 });
    }
  }
  // Urlencoded: read at most the cap, even without a Content-Length.
  const reader = request.body?.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (reader) {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_REQUEST_BYTES) {
        await reader.cancel();
        throw new RequestTooLarge();
      }
      chunks.push(value);
    }
  }
  const text = Buffer.concat(chunks).toString("utf8");
  const form = new FormData();
  for (const [key, value] of new URLSearchParams(text)) form.append(key, value);
  return form;
}

export async function action({ request, context }: ActionFunctionArgs) {
  const { organizationId, actor } = await requireDealer(request, context);
  const failure = (f: Partial<QuickFailure>, status = 422) =>
    data<QuickFailure>({ fieldErrors: {}, formError: null, lineProblems: [], values: {}, source: "text", ...f }, { status });
  let form: FormData;
  try {
    form = await readForm(request);
  } catch (error) {
    if (error instanceof RequestTooLarge) return failure({ formError: "orders.problem.fileTooLarge" }, 413);
    throw error;
  }
  await requireCsrf(request, context, form);

  const text = form.get("lines");
  const file = form.get("file");
  const pasted = typeof text === "string" ? text : "";
  const values: Record<string, string> = {};
  for (const field of ["core_enterprise_id", "kind", "season_id", "note"]) {
    const v = form.get(field);
    if (typeof v === "string") values[field] = v.slice(0, ORDER_LIMITS.maxNoteChars);
  }
  // The pasted lines go back into the form as typed (within the same cap as a file).
  values.lines = pasted.slice(0, MAX_BYTES);
  const fromFile = file !== null && typeof file !== "string" && file.size > 0;
  const source = fromFile ? "file" : "text";

  const parsed = QuickForm.safeParse(values);
  const fieldErrors: Record<string, string> = {};
  if (!parsed.success) {
    for (const issue of parsed.error.issues) fieldErrors[String(issue.path[0])] ??= issue.message;
  }
  if (parsed.success && parsed.data.kind === "preorder" && !parsed.data.season_id) fieldErrors.season_id = "orders.problem.chooseSeason";

  let body: string;
  if (fromFile) {
    const bytes = new Uint8Array(await (file as File).arrayBuffer());
    if (bytes.byteLength > MAX_BYTES) return failure({ formError: "orders.problem.fileTooLarge", values, source }, 413);
    try {
      body = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      return failure({ fieldErrors: { ...fieldErrors, file: "orders.problem.notUtf8" }, values, source });
    }
  } else {
    if (new TextEncoder().encode(pasted).byteLength > MAX_BYTES) return failure({ formError: "orders.problem.fileTooLarge", values, source }, 413);
    body = pasted;
  }
  const { lines, problems, tooMany } = parseLines(body);
  if (tooMany) return failure({ fieldErrors: { ...fieldErrors, lines: "orders.problem.tooManyLines" }, values, source });
  if (lines.length === 0 && problems.length === 0) fieldErrors[fromFile ? "file" : "lines"] = "orders.problem.noLines";
  if (!parsed.success || Object.keys(fieldErrors).length || problems.length) {
    return failure({ fieldErrors, lineProblems: problems, values, source });
  }

  try {
    const order = await createOrder(context.db, actor, {
      dealerId: organizationId,
      coreEnterpriseId: parsed.data.core_enterprise_id.toLowerCase(),
      kind: parsed.data.kind,
      seasonId: parsed.data.kind === "preorder" ? parsed.data.season_id : null,
      note: parsed.data.note ?? "",
      lines: lines.map((l) => ({ skuCode: l.skuCode, quantity: l.quantity })),
    });
    return redirect(`/orders/${order.id}`, {
      headers: {
        "Set-Cookie": await flashCookie(context, {
          key: order.status === "pending_approval" ? "orders.flash.sentForApproval" : "orders.flash.submitted",
          params: { number: order.number },
        }),
      },
    });
  } catch (error) {
    if (!isDomainError(error)) throw error;
    // `lines.<i>.<field>` counts the lines given to the model: back to the line numbers pasted.
    const lineProblems: LineProblem[] = [];
    const rest: Record<string, string> = {};
    for (const [key, value] of Object.entries(error.fields)) {
      const match = /^lines\.(\d+)\.(\w+)$/.exec(key);
      const source_ = match ? lines[Number(match[1])] : undefined;
      if (match && source_) {
        lineProblems.push({
          line: source_.line,
          sku: source_.skuCode,
          quantity: String(source_.quantity),
          field: match[2] === "quantity" ? "quantity" : "sku",
          problem: value,
        });
      } else rest[key] = value;
    }
    // A supplier or season this dealer cannot book with is a wrong choice in the form, not a missing page.
    if (error.code === "not_found" && (rest.core_enterprise_id || rest.season_id)) {
      return failure({ fieldErrors: rest, values, source });
    }
    if (lineProblems.length || error.code === "validation" || error.code === "invalid_state") {
      lineProblems.sort((a, b) => a.line - b.line);
      return failure({ fieldErrors: rest, lineProblems, values, source, formError: lineProblems.length || Object.keys(rest).length ? null : error.message }, error.status);
    }
    const { failure: f, status } = domainFailure(error, "quick", values);
    return failure({ fieldErrors: f.fieldErrors, formError: f.formError, values, source }, status);
  }
}

// ---------------------------------------------------------------------------------------------

export default function QuickOrder() {
  const { suppliers, seasons, prefill, maxLines, maxKiB } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const t = useT();
  const locale = useLocale();
  const problem = useOrderProblem();
  const errors = result?.fieldErrors ?? {};
  const values = result?.values ?? {};
  const shown = new Set(["core_enterprise_id", "kind", "season_id", "note", "lines", "file"]);
  const unplaced = Object.entries(errors)
    .filter(([field]) => !shown.has(field))
    .map(([, text]) => problem(text)!);
  if (result?.formError) unplaced.push(problem(result.formError)!);
  const lineProblems = result?.lineProblems ?? [];
  const linesError = problem(errors.lines);
  const fileError = problem(errors.file);
  return (
    <div className="sc-page od-page">
      <p>
        <Link to="/orders">← {t("orders.back")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t("orders.eyebrowDealer")}</p>
          <h1>{t("orders.quickTitle")}</h1>
          <p className="subtle">{t("orders.quickIntro", { lines: maxLines, kib: maxKiB })}</p>
        </div>
        <Link to="/cart" className="sc-button secondary">
          {t("orders.cart")}
        </Link>
      </div>
      {prefill ? <p className="notice">{t("orders.reorderFrom", { number: prefill.number })}</p> : null}

      {lineProblems.length ? (
        <section className="panel od-line-problems" aria-labelledby="problems-heading" role="alert">
          <h2 id="problems-heading">{t("orders.quickFailed")}</h2>
          <p className="sc-form-error">{t("orders.quickFailedDetail", { count: lineProblems.length })}</p>
          <div className="table-wrap">
            <table className="data" data-testid="line-problems">
              <thead>
                <tr>
                  <th scope="col" className="num">
                    {t("orders.quickLine")}
                  </th>
                  <th scope="col">{t("orders.skuCode")}</th>
                  <th scope="col" className="num">
                    {t("orders.line.quantity")}
                  </th>
                  <th scope="col">{t("orders.quickField")}</th>
                  <th scope="col">{t("orders.quickProblem")}</th>
                </tr>
              </thead>
              <tbody>
                {lineProblems.map((p, i) => (
                  <tr key={i} data-line={p.line}>
                    <td className="num">{p.line > 0 ? formatInteger(p.line, locale) : "—"}</td>
                    <td className="mono">{p.sku}</td>
                    <td className="num">{p.quantity}</td>
                    <td>{t(`orders.quickField.${p.field}`)}</td>
                    <td>{problem(p.problem)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}

      <section className="panel">
        {suppliers.length === 0 ? (
          <p className="empty">{t("orders.noSuppliers")}</p>
        ) : (
          <Form method="post" encType="multipart/form-data" noValidate data-testid="quick-form">
            <CsrfInput />
            <ActionError problems={unplaced} />
            <div className="sc-grid">
              <SelectField
                name="core_enterprise_id"
                label={t("orders.supplier")}
                required
                options={suppliers.map((s) => ({ value: s.id, label: locale === "en" && s.nameEn ? s.nameEn : s.name }))}
                defaultValue={values.core_enterprise_id ?? prefill?.supplierId ?? suppliers[0]?.id}
                error={problem(errors.core_enterprise_id)}
              />
              <SelectField
                name="kind"
                label={t("orders.kind")}
                required
                options={[
                  { value: "replenishment", label: t("orders.kind.replenishment") },
                  { value: "preorder", label: t("orders.kind.preorder") },
                ]}
                defaultValue={values.kind ?? "replenishment"}
                error={problem(errors.kind)}
              />
              <SelectField
                name="season_id"
                label={t("orders.season")}
                options={[
                  { value: "", label: seasons.length ? t("orders.seasonNone") : t("orders.seasonNoneOpen") },
                  ...seasons.map((s) => ({ value: s.id, label: t("orders.seasonOption", { supplier: s.supplierName, season: s.name, percent: s.depositPercent }) })),
                ]}
                defaultValue={values.season_id ?? ""}
                error={problem(errors.season_id)}
                hint={t("orders.seasonHint")}
              />
            </div>
            <div className="sc-field">
              <label htmlFor="lines">{t("orders.quickLines")}</label>
              <textarea
                id="lines"
                name="lines"
                rows={10}
                className="od-lines-input mono"
                placeholder={"HT-KFR-35GW-A1,10\nHT-DF-3001,12"}
                defaultValue={result ? values.lines : (prefill?.lines ?? "")}
                aria-invalid={linesError ? true : undefined}
                aria-describedby={`lines-hint${linesError ? " lines-error" : ""}`}
              />
              <p className="hint" id="lines-hint">
                {t("orders.quickLinesHint")}
              </p>
              {linesError ? (
                <p className="field-error" id="lines-error">
                  {linesError}
                </p>
              ) : null}
            </div>
            <div className="sc-field">
              <label htmlFor="file">{t("orders.quickFile")}</label>
              <input
                id="file"
                name="file"
                type="file"
                accept=".csv,.txt,text/csv,text/plain"
                aria-invalid={fileError ? true : undefined}
                aria-describedby={`file-hint${fileError ? " file-error" : ""}`}
              />
              <p className="hint" id="file-hint">
                {t("orders.quickFileHint", { kib: maxKiB })}
              </p>
              {fileError ? (
                <p className="field-error" id="file-error">
                  {fileError}
                </p>
              ) : null}
            </div>
            <TextField name="note" label={t("orders.note")} maxLength={1000} defaultValue={values.note} error={problem(errors.note)} />
            <button type="submit" className="sc-button" disabled={navigation.state === "submitting"}>
              {t("orders.quickSubmit")}
            </button>
            <p className="sc-muted small">{t("orders.quickAllOrNothing")}</p>
          </Form>
        )}
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
