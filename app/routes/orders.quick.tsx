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
import { z } from "zod";
import { CsrfInput } from "~/components/csrf-input";
import { NeedsRole } from "~/components/needs-role";
import { ActionError, PaymentChoice, paymentChoiceField, useOrderProblem } from "~/components/order-ui";
import { RouteError } from "~/components/route-error";
import { SelectField, TextField } from "~/components/supply-ui";
import { formatFen, formatInteger, formatPercentBps } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { parseWholeNumber } from "~/domain/catalog";
import { listSuppliersForDealer } from "~/domain/dealers";
import { isDomainError } from "~/domain/shared";
import { mayMap } from "~/domain/identity";
import { ORDER_LIMITS, createOrder, getOrder, listSeasons } from "~/domain/orders";
import { domainFailure, requireDealer } from "~/web/supply-chain-access.server";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import ordersStyles from "~/styles/orders.css";
import supplyStyles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: supplyStyles },
  { rel: "stylesheet", href: ordersStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "orders.quickTitle");

// Limits of the model (server-only module): read inside the loader and action, never at module
// level, so nothing of the server module runs in the browser bundle.
// - the lines, pasted or uploaded: ORDER_LIMITS.maxQuickOrderBytes (256 KiB), ORDER_LIMITS.maxLines (200);
// - the whole request: the lines twice at most (pasted and a file) and a few short fields.
const maxBytes = () => ORDER_LIMITS.maxQuickOrderBytes;
const maxLines = () => ORDER_LIMITS.maxLines;
const maxRequestBytes = () => 2 * maxBytes() + 64 * 1024;

async function supplierChoices(db: LoaderFunctionArgs["context"]["db"], dealerId: string) {
  const suppliers = (await listSuppliersForDealer(db, dealerId)).filter((s) => s.status === "active");
  const seasons = [];
  for (const s of suppliers) {
    for (const season of await listSeasons(db, s.coreEnterpriseId)) {
      if (season.status === "open") {
        seasons.push({ id: season.id, name: season.name, supplierId: s.coreEnterpriseId, supplierName: s.coreName, depositPercent: formatPercentBps(season.deposit_rate_bps) });
      }
    }
  }
  return {
    // With the credit line of each: what an order put on account now may hold.
    suppliers: suppliers.map((s) => ({ id: s.coreEnterpriseId, name: s.coreName, nameEn: s.coreNameEn, creditAvailableFen: s.credit.availableFen, creditLimitFen: s.credit.limitFen })),
    seasons,
  };
}

export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organizationId, roles } = await requireDealer(request, context);
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
  // Booking from the dealer's seasons page (/preorders): the form preset to that season, if open to it.
  const booking = seasons.find((s) => s.id === new URL(request.url).searchParams.get("season")) ?? null;
  return { suppliers, seasons, prefill, booking, maxLines: maxLines(), maxKiB: maxBytes() / 1024, may: mayMap(roles, "dealer", ["order.create"]) };
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

/** A line as pasted: its number in the source, and its own problem when it cannot be read. */
interface ParsedLine {
  line: number;
  skuCode: string;
  quantityText: string;
  /** Null when the line cannot be read (then `problem` says why). */
  quantity: number | null;
  problem: LineProblem | null;
}

const HEADER = /^(sku|sku[ _]?code|code|编码|sku编码|商品编码|货号)$/i;

async function parseLines(text: string): Promise<{ lines: ParsedLine[]; syntax: LineProblem | null; tooMany: boolean }> {
  // Loaded here, on the server only: csv-parse touches Node's Buffer when it loads.
  const { parse: parseCsv } = await import("csv-parse/sync");
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
    // csv-parse's errors carry a CSV_* code and the line it stopped at.
    const csvError = error as { code?: unknown; lines?: unknown };
    if (typeof csvError.code === "string" && csvError.code.startsWith("CSV_")) {
      const line = Number(csvError.lines ?? 0);
      return { lines: [], syntax: { line, sku: "", quantity: "", field: "line", problem: "orders.problem.csvSyntax" }, tooMany: false };
    }
    throw error;
  }
  if (records.length > 0 && HEADER.test(records[0].record[0] ?? "") && parseWholeNumber(records[0].record[1] ?? "") === null) records = records.slice(1);
  if (records.length > maxLines()) return { lines: [], syntax: null, tooMany: true };
  const lines: ParsedLine[] = records.map(({ record, info }) => {
    const [skuCode = "", quantityText = "", ...rest] = record;
    const line = { line: info.lines, skuCode: skuCode.slice(0, 64), quantityText: quantityText.slice(0, 20) };
    const problem = (field: LineProblem["field"], code: string): ParsedLine => ({
      ...line,
      quantity: null,
      problem: { line: info.lines, sku: line.skuCode, quantity: line.quantityText, field, problem: code },
    });
    if (rest.some((cell) => cell !== "")) return problem("line", "orders.problem.extraCells");
    if (!skuCode) return problem("sku", "orders.problem.missingSku");
    const quantity = parseWholeNumber(quantityText);
    if (quantity === null || quantity < 1 || quantity > 1_000_000_000) {
      return problem("quantity", quantityText ? "orders.problem.wholeNumber" : "orders.problem.missingQuantity");
    }
    return { ...line, quantity, problem: null };
  });
  return { lines, syntax: null, tooMany: false };
}

/** Raised inside the order's transaction to undo it: never expected (see below), but never a write. */
class UnreadableLines extends Error {}

// ---------------------------------------------------------------------------------------------

const QuickForm = z
  .object({
    core_enterprise_id: z.string({ required_error: "orders.problem.chooseSupplier" }).regex(/^[0-9a-f-]{36}$/i, "orders.problem.chooseSupplier"),
    kind: z.enum(["replenishment", "preorder"], { errorMap: () => ({ message: "orders.problem.chooseKind" }) }),
    season_id: z.string().optional(),
    note: z.string().trim().max(1_000, "field.tooLong").optional(),
    // Pay after the supplier confirms (default), or hold the total on the credit line now.
    payment_method: paymentChoiceField,
  })
  // A preorder's deposit is paid, never put on account (the model refuses it too).
  .refine((v) => !(v.kind === "preorder" && v.payment_method === "on_account"), { message: "orders.problem.onAccountNotPreorder", path: ["payment_method"] });

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
  if (length > maxRequestBytes()) throw new RequestTooLarge();
  if ((request.headers.get("Content-Type") ?? "").startsWith("multipart/form-data")) {
    try {
      return await unstable_parseMultipartFormData(request, unstable_createMemoryUploadHandler({ maxPartSize: maxBytes() }));
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
      if (size > maxRequestBytes()) {
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
  const { organizationId, actor } = await requireDealer(request, context, { may: "order.create" });
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
  for (const field of ["core_enterprise_id", "kind", "season_id", "note", "payment_method"]) {
    const v = form.get(field);
    if (typeof v === "string") values[field] = v.slice(0, 1_000);
  }
  // The pasted lines go back into the form as typed (within the same cap as a file).
  values.lines = pasted.slice(0, maxBytes());
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
    if (bytes.byteLength > maxBytes()) return failure({ formError: "orders.problem.fileTooLarge", values, source }, 413);
    try {
      body = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      return failure({ fieldErrors: { ...fieldErrors, file: "orders.problem.notUtf8" }, values, source });
    }
  } else {
    if (new TextEncoder().encode(pasted).byteLength > maxBytes()) return failure({ formError: "orders.problem.fileTooLarge", values, source }, 413);
    body = pasted;
  }
  const { lines, syntax, tooMany } = await parseLines(body);
  if (tooMany) return failure({ fieldErrors: { ...fieldErrors, lines: "orders.problem.tooManyLines" }, values, source });
  if (syntax) return failure({ fieldErrors, lineProblems: [syntax], values, source });
  if (lines.length === 0) fieldErrors[fromFile ? "file" : "lines"] = "orders.problem.noLines";
  const unreadable = lines.flatMap((l) => (l.problem ? [l.problem] : []));
  if (!parsed.success || Object.keys(fieldErrors).length) {
    return failure({ fieldErrors, lineProblems: unreadable, values, source });
  }

  // Every line goes to the model, so one answer lists every bad line: the catalogue's problems
  // (unknown SKU, MOQ, packs, duplicates) together with the lines that could not be read. Those go
  // with no quantity, which the model always refuses, so the order is never written while any line
  // is wrong; and should that ever not hold, the transaction is rolled back.
  const onAccount = parsed.data.payment_method === "on_account";
  try {
    const order = await context.db.transaction().execute(async (trx) => {
      const created = await createOrder(trx, actor, {
        dealerId: organizationId,
        coreEnterpriseId: parsed.data.core_enterprise_id.toLowerCase(),
        kind: parsed.data.kind,
        seasonId: parsed.data.kind === "preorder" ? parsed.data.season_id : null,
        note: parsed.data.note ?? "",
        lines: lines.map((l) => ({ skuCode: l.skuCode, quantity: l.quantity ?? Number.NaN })),
        paymentMethod: onAccount ? "on_account" : null,
      }, new Date());
      if (unreadable.length) throw new UnreadableLines();
      return created;
    });
    return redirect(`/orders/${order.id}`, {
      headers: {
        "Set-Cookie": await flashCookie(context, {
          key:
            order.status === "pending_approval"
              ? onAccount
                ? "orders.flash.sentForApprovalOnAccount"
                : "orders.flash.sentForApproval"
              : onAccount
                ? "orders.flash.submittedOnAccount"
                : "orders.flash.submitted",
          params: { number: order.number },
        }),
      },
    });
  } catch (error) {
    if (error instanceof UnreadableLines) return failure({ lineProblems: unreadable, values, source });
    if (!isDomainError(error)) throw error;
    // `lines.<i>.<field>` counts the lines given to the model: back to the line numbers pasted. A
    // line that could not be read keeps its own (more precise) problem.
    const lineProblems: LineProblem[] = [...unreadable];
    const rest: Record<string, string> = {};
    for (const [key, value] of Object.entries(error.fields)) {
      const match = /^lines\.(\d+)\.(\w+)$/.exec(key);
      const pasted = match ? lines[Number(match[1])] : undefined;
      if (match && pasted) {
        if (pasted.problem) continue;
        lineProblems.push({
          line: pasted.line,
          sku: pasted.skuCode,
          quantity: pasted.quantityText,
          field: match[2] === "quantity" ? "quantity" : "sku",
          problem: value,
        });
      } else rest[key] = value;
    }
    lineProblems.sort((a, b) => a.line - b.line);
    // A supplier or season this dealer cannot book with is a wrong choice in the form, not a missing page.
    if (error.code === "not_found" && (rest.core_enterprise_id || rest.season_id)) {
      return failure({ fieldErrors: rest, lineProblems: unreadable, values, source });
    }
    if (lineProblems.length || error.code === "validation" || error.code === "invalid_state") {
      return failure({ fieldErrors: rest, lineProblems, values, source, formError: lineProblems.length || Object.keys(rest).length ? null : error.message }, error.status);
    }
    const { failure: f, status } = domainFailure(error, "quick", values);
    return failure({ fieldErrors: f.fieldErrors, formError: f.formError, values, source }, status);
  }
}

// ---------------------------------------------------------------------------------------------

export default function QuickOrder() {
  const { suppliers, seasons, prefill, booking, maxLines, maxKiB, may } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const t = useT();
  const locale = useLocale();
  const problem = useOrderProblem();
  const errors = result?.fieldErrors ?? {};
  const values = result?.values ?? {};
  const shown = new Set(["core_enterprise_id", "kind", "season_id", "note", "lines", "file", "payment_method"]);
  const unplaced = Object.entries(errors)
    .filter(([field]) => !shown.has(field))
    .map(([, text]) => problem(text)!);
  if (result?.formError) unplaced.push(problem(result.formError)!);
  const lineProblems = result?.lineProblems ?? [];
  const linesError = problem(errors.lines);
  const fileError = problem(errors.file);
  const paymentError = problem(errors.payment_method);
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
        {!may["order.create"] ? (
          <NeedsRole action="order.create" kind="dealer" />
        ) : suppliers.length === 0 ? (
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
                defaultValue={values.core_enterprise_id ?? prefill?.supplierId ?? booking?.supplierId ?? suppliers[0]?.id}
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
                defaultValue={values.kind ?? (booking ? "preorder" : "replenishment")}
                error={problem(errors.kind)}
              />
              <SelectField
                name="season_id"
                label={t("orders.season")}
                options={[
                  { value: "", label: seasons.length ? t("orders.seasonNone") : t("orders.seasonNoneOpen") },
                  ...seasons.map((s) => ({ value: s.id, label: t("orders.seasonOption", { supplier: s.supplierName, season: s.name, percent: s.depositPercent }) })),
                ]}
                defaultValue={values.season_id ?? booking?.id ?? ""}
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
            <PaymentChoice
              idPrefix="quick"
              chosen={values.payment_method}
              error={paymentError}
              onAccountHint={t("orders.payChoice.notPreorder")}
              credit={
                <>
                  {t("orders.payChoice.onAccountHint")}
                  <ul>
                    {suppliers.map((s) => (
                      <li key={s.id}>
                        {t("orders.payChoice.creditOf", {
                          supplier: locale === "en" && s.nameEn ? s.nameEn : s.name,
                          available: formatFen(s.creditAvailableFen, locale),
                          limit: formatFen(s.creditLimitFen, locale),
                        })}
                      </li>
                    ))}
                  </ul>
                </>
              }
            />
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
