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
import { CsrfInput } from "~/components/csrf-input";
import { RouteError } from "~/components/route-error";
import { useProblemText } from "~/components/supply-ui";
import { formatInteger } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { CSV_COLUMNS, CSV_LIMITS, importSkusCsv, type CsvRowError } from "~/domain/catalog";
import { requireCoreEnterprise } from "~/web/supply-chain-access.server";
import { flashCookie, requireCsrf } from "~/session.server";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "catalog.importTitle");

interface ImportFailure {
  errors: CsvRowError[];
  rows: number;
  moreErrors: boolean;
  fileName: string | null;
}

export async function loader({ request, context }: LoaderFunctionArgs) {
  await requireCoreEnterprise(request, context, { may: "catalog.import" });
  return {
    columns: CSV_COLUMNS.map((c) => ({ en: c.en, zh: c.zh, required: c.required, field: c.field })),
    maxRows: CSV_LIMITS.maxRows,
    maxMiB: CSV_LIMITS.maxBytes / 1024 / 1024,
  };
}

function fileProblem(code: "file_too_large" | "file_required", rows = 0): ImportFailure {
  return { errors: [{ line: 0, field: null, column: null, code: code === "file_required" ? "empty_file" : code, message: code, value: null }], rows, moreErrors: false, fileName: null };
}

export async function action({ request, context }: ActionFunctionArgs) {
  // Who is asking first: nobody reads a 2 MiB body for a visitor who may not import.
  const { organizationId, actor } = await requireCoreEnterprise(request, context, { may: "catalog.import" });
  let form: FormData;
  try {
    form = await unstable_parseMultipartFormData(
      request,
      // In memory and capped: a part above the limit stops the upload rather than filling memory.
      unstable_createMemoryUploadHandler({ maxPartSize: CSV_LIMITS.maxBytes }),
    );
  } catch (error) {
    if (error instanceof MaxPartSizeExceededError) return data<ImportFailure>(fileProblem("file_too_large"), { status: 413 });
    throw new Response("The upload could not be read", { status: 400 });
  }
  await requireCsrf(request, context, form);
  const file = form.get("file");
  if (!file || typeof file === "string" || file.size === 0) {
    return data<ImportFailure>(fileProblem("file_required"), { status: 422 });
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  const result = await importSkusCsv(context.db, actor, organizationId, bytes);
  if (!result.ok) {
    return data<ImportFailure>({ errors: result.errors, rows: result.rows, moreErrors: result.moreErrors, fileName: file.name.slice(0, 200) }, { status: 422 });
  }
  throw redirect("/catalog", {
    headers: {
      "Set-Cookie": await flashCookie(context, { key: "catalog.flash.imported", params: { created: result.created, updated: result.updated } }),
    },
  });
}

export default function ImportSkus() {
  const { columns, maxRows, maxMiB } = useLoaderData<typeof loader>();
  const failure = useActionData<typeof action>();
  const navigation = useNavigation();
  const t = useT();
  const locale = useLocale();
  const problem = useProblemText();
  return (
    <div className="sc-page">
      <p>
        <Link to="/catalog">← {t("catalog.back")}</Link>
      </p>
      <h1>{t("catalog.importTitle")}</h1>
      <div className="sc-cols">
        <section className="panel" aria-labelledby="upload-heading">
          <h2 id="upload-heading">{t("catalog.importUpload")}</h2>
          <p>{t("catalog.importIntro", { rows: formatInteger(maxRows, locale), mib: maxMiB })}</p>
          <Form method="post" encType="multipart/form-data">
            <CsrfInput />
            <div className="sc-field">
              <label htmlFor="file">{t("catalog.importFile")}</label>
              <input id="file" name="file" type="file" accept=".csv,text/csv" required />
            </div>
            <button type="submit" className="sc-button" disabled={navigation.state === "submitting"}>
              {t("catalog.importSubmit")}
            </button>
          </Form>
        </section>
        <section className="panel" aria-labelledby="columns-heading">
          <h2 id="columns-heading">{t("catalog.importColumns")}</h2>
          <p className="small">{t("catalog.importColumnsNote")}</p>
          <div className="table-wrap">
            <table className="data">
              <thead>
                <tr>
                  <th scope="col">{t("catalog.importHeaderZh")}</th>
                  <th scope="col">{t("catalog.importHeaderEn")}</th>
                  <th scope="col">{t("catalog.importRequired")}</th>
                </tr>
              </thead>
              <tbody>
                {columns.map((c) => (
                  <tr key={c.field}>
                    <td>{c.zh}</td>
                    <td className="mono">{c.en}</td>
                    <td>{c.required ? t("catalog.yes") : "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      </div>

      {failure ? (
        <section className="panel" aria-labelledby="errors-heading" role="alert">
          <h2 id="errors-heading">{t("catalog.importFailed")}</h2>
          <p className="sc-form-error">
            {failure.rows > 0
              ? t("catalog.importFailedDetail", { count: failure.errors.length, rows: formatInteger(failure.rows, locale) })
              : t("catalog.importFailedFile")}
          </p>
          <div className="table-wrap">
            <table className="data" data-testid="import-errors">
              <thead>
                <tr>
                  <th scope="col" className="num">
                    {t("catalog.importLine")}
                  </th>
                  <th scope="col">{t("catalog.importColumn")}</th>
                  <th scope="col">{t("catalog.importValue")}</th>
                  <th scope="col">{t("catalog.importProblem")}</th>
                </tr>
              </thead>
              <tbody>
                {failure.errors.map((e, i) => (
                  <tr key={i}>
                    <td className="num">{e.line > 0 ? e.line : "—"}</td>
                    <td>{e.column ?? "—"}</td>
                    <td className="mono">{e.value ?? ""}</td>
                    <td>{problem(e.code)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {failure.moreErrors ? <p className="subtle">{t("catalog.importMoreErrors", { count: failure.errors.length })}</p> : null}
        </section>
      ) : null}
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
