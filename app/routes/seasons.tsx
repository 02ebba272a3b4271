import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { z } from "zod";
import { CsrfInput } from "~/components/csrf-input";
import { ActionError, useOrderProblem } from "~/components/order-ui";
import { RouteError } from "~/components/route-error";
import { TextField } from "~/components/supply-ui";
import { formatDateTime, translateDynamic, formatPercentBps } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { parsePercentToBps } from "~/domain/catalog";
import { createSeason, listSeasons, releaseSeason } from "~/domain/orders";
import { domainFailure, formValues, requireCoreEnterprise } from "~/web/supply-chain-access.server";
import { requireUuidParam } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import ordersStyles from "~/styles/orders.css";
import supplyStyles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: supplyStyles },
  { rel: "stylesheet", href: ordersStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "seasons.title");

export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organizationId, canManage } = await requireCoreEnterprise(request, context);
  const seasons = await listSeasons(context.db, organizationId);
  return {
    canManage,
    seasons: seasons.map((s) => ({
      id: s.id,
      name: s.name,
      depositPercent: formatPercentBps(s.deposit_rate_bps),
      status: s.status,
      createdAt: new Date(s.created_at).toISOString(),
      releasedAt: s.released_at ? new Date(s.released_at).toISOString() : null,
    })),
  };
}

const CreateForm = z.object({
  name: z.string({ required_error: "field.required" }).trim().min(1, "field.required").max(100, "field.tooLong"),
  deposit_percent: z
    .string({ required_error: "field.required" })
    .trim()
    .min(1, "field.required")
    .refine((v) => {
      const bps = parsePercentToBps(v);
      return bps !== null && bps <= 10_000;
    }, "orders.problem.depositRange"),
});

type SeasonsResult =
  | { intent: "create"; fieldErrors: Record<string, string>; formError: string | null; values: Record<string, string> }
  | { intent: "release"; seasonId: string; seasonName: string; released: string[]; short: { number: string; message: string }[]; formError: string | null };

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId, actor } = await requireCoreEnterprise(request, context, { may: "season.write" });
  const intent = String(form.get("intent") ?? "");
  const values = formValues(form, ["name", "deposit_percent", "season_id"]);
  if (intent === "create") {
    const parsed = CreateForm.safeParse(values);
    if (!parsed.success) {
      const fieldErrors: Record<string, string> = {};
      for (const issue of parsed.error.issues) fieldErrors[String(issue.path[0])] ??= issue.message;
      return data<SeasonsResult>({ intent, fieldErrors, formError: null, values }, { status: 422 });
    }
    try {
      const season = await createSeason(context.db, actor, organizationId, {
        name: parsed.data.name,
        depositRateBps: parsePercentToBps(parsed.data.deposit_percent)!,
      });
      return redirect("/seasons", { headers: { "Set-Cookie": await flashCookie(context, { key: "seasons.flash.created", params: { name: season.name } }) } });
    } catch (error) {
      const { failure, status } = domainFailure(error, intent, values);
      // The model names `deposit_rate_bps`; the form's field is the percentage.
      const fieldErrors = { ...failure.fieldErrors };
      if (fieldErrors.deposit_rate_bps) {
        fieldErrors.deposit_percent = fieldErrors.deposit_rate_bps;
        delete fieldErrors.deposit_rate_bps;
      }
      return data<SeasonsResult>({ intent: "create", fieldErrors, formError: failure.formError, values }, { status });
    }
  }
  if (intent === "release") {
    // Scoped by the model: another core enterprise's season is a 404, like an unknown one.
    const seasonId = requireUuidParam(values.season_id);
    try {
      const season = (await listSeasons(context.db, organizationId)).find((s) => s.id === seasonId);
      const result = await releaseSeason(context.db, actor, organizationId, seasonId, new Date());
      return data<SeasonsResult>({ intent, seasonId, seasonName: season?.name ?? "", released: result.released, short: result.short, formError: null });
    } catch (error) {
      const { failure, status } = domainFailure(error, intent, values);
      return data<SeasonsResult>({ intent: "release", seasonId, seasonName: "", released: [], short: [], formError: failure.formError }, { status });
    }
  }
  throw new Response("Unknown form", { status: 400 });
}

export default function Seasons() {
  const { canManage, seasons } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const busy = navigation.state === "submitting";
  const t = useT();
  const locale = useLocale();
  const problem = useOrderProblem();
  const create = result?.intent === "create" ? result : undefined;
  const release = result?.intent === "release" ? result : undefined;
  const createErrors = create?.fieldErrors ?? {};
  const createUnplaced = Object.entries(createErrors)
    .filter(([f]) => f !== "name" && f !== "deposit_percent")
    .map(([, v]) => problem(v)!);
  if (create?.formError) createUnplaced.push(problem(create.formError)!);
  return (
    <div className="sc-page od-page">
      <p>
        <Link to="/orders">← {t("orders.back")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t("orders.eyebrowCore")}</p>
          <h1>{t("seasons.title")}</h1>
          <p className="subtle">{t("seasons.intro")}</p>
        </div>
      </div>

      {release ? (
        <section className="panel" aria-labelledby="release-heading" role="status" data-testid="release-result">
          <h2 id="release-heading">{t("seasons.releaseResult", { name: release.seasonName })}</h2>
          {release.formError ? <ActionError problems={[problem(release.formError)!]} /> : null}
          <p>{t("seasons.releasedCount", { count: release.released.length })}</p>
          {release.released.length ? (
            <ul className="od-returns">
              {release.released.map((n) => (
                <li key={n} className="mono">
                  {n}
                </li>
              ))}
            </ul>
          ) : null}
          {release.short.length ? (
            <>
              <p className="sc-form-error">{t("seasons.shortCount", { count: release.short.length })}</p>
              <div className="table-wrap">
                <table className="data">
                  <thead>
                    <tr>
                      <th scope="col">{t("orders.number")}</th>
                      <th scope="col">{t("orders.quickProblem")}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {release.short.map((s) => (
                      <tr key={s.number}>
                        <td className="mono">{s.number}</td>
                        <td>{problem(s.message)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <p className="sc-muted small">{t("seasons.shortHint")}</p>
            </>
          ) : null}
        </section>
      ) : null}

      <div className="sc-cols">
        <section className="panel" aria-labelledby="list-heading">
          <h2 id="list-heading">{t("seasons.list")}</h2>
          {seasons.length === 0 ? (
            <p className="empty">{t("seasons.empty")}</p>
          ) : (
            <div className="table-wrap">
              <table className="data" data-testid="seasons">
                <thead>
                  <tr>
                    <th scope="col">{t("seasons.name")}</th>
                    <th scope="col" className="num">
                      {t("seasons.deposit")}
                    </th>
                    <th scope="col">{t("orders.status")}</th>
                    <th scope="col">
                      <span className="visually-hidden">{t("orders.actionsTitle")}</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {seasons.map((s) => (
                    <tr key={s.id}>
                      <td>
                        {s.name}
                        <div className="sc-muted">
                          {t("seasons.createdAt", { at: formatDateTime(s.createdAt, locale) })}
                          {s.releasedAt ? ` · ${t("seasons.releasedAt", { at: formatDateTime(s.releasedAt, locale) })}` : ""}
                        </div>
                      </td>
                      <td className="num">{s.depositPercent}</td>
                      <td>
                        <span className={`od-status ${s.status === "open" ? "confirmed" : s.status === "released" ? "completed" : "cancelled"}`}>
                          {translateDynamic(locale, `seasons.status.${s.status}`, s.status)}
                        </span>
                      </td>
                      <td className="actions">
                        {canManage && s.status !== "closed" ? (
                          <Form method="post" className="od-inline">
                            <CsrfInput />
                            <input type="hidden" name="intent" value="release" />
                            <input type="hidden" name="season_id" value={s.id} />
                            <button type="submit" className="sc-button small" disabled={busy}>
                              {s.status === "released" ? t("seasons.releaseAgain") : t("seasons.release")}
                            </button>
                          </Form>
                        ) : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <p className="sc-muted small">{t("seasons.releaseExplain")}</p>
        </section>

        <section className="panel" aria-labelledby="create-heading">
          <h2 id="create-heading">{t("seasons.create")}</h2>
          {canManage ? (
            <Form method="post" noValidate>
              <CsrfInput />
              <input type="hidden" name="intent" value="create" />
              <ActionError problems={createUnplaced} />
              <TextField name="name" label={t("seasons.name")} required maxLength={100} defaultValue={create?.values.name} error={problem(createErrors.name)} placeholder={t("seasons.namePlaceholder")} />
              <TextField
                name="deposit_percent"
                label={t("seasons.depositField")}
                required
                inputMode="decimal"
                defaultValue={create?.values.deposit_percent ?? "30"}
                error={problem(createErrors.deposit_percent)}
                hint={t("seasons.depositHint")}
              />
              <button type="submit" className="sc-button" disabled={busy}>
                {t("seasons.createSubmit")}
              </button>
            </Form>
          ) : (
            <p className="notice">{t("catalog.readOnly")}</p>
          )}
        </section>
      </div>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
