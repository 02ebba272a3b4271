import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { Checkboxes, FileInput, FormProblem, Select, TextArea, TextInput, useChannelLabel } from "~/components/recruitment-ui";
import { RouteError } from "~/components/route-error";
import { formatFen, translate, formatDate } from "~/i18n";
import { localeFromMatches } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import type { Actor } from "~/domain/shared";
import { fieldFailure, formFailure, type FormFailure } from "~/web/recruitment-forms.server";
import { readFormWithFiles } from "~/web/recruitment-uploads.server";
import { APPLICATION_FORM_FIELDS, applicationInputSchema, getPublicCampaign, issuesToFields, RECRUITMENT_LIMITS, submitApplication } from "~/domain/recruitment";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
// The channel checkboxes render in the browser: the list comes from the schema module, not a .server one.
import { SALES_CHANNELS } from "../../db/schema";
import { flashCookie, requireCsrf } from "~/session.server";
import styles from "~/styles/recruitment.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];

export const meta: MetaFunction<typeof loader> = ({ data: loaded, matches }) => {
  const locale = localeFromMatches(matches);
  const title = loaded ? `${loaded.campaign.title} · ${loaded.campaign.coreEnterpriseName}` : translate(locale, "recruitment.title");
  return [{ title: `${title} · ${translate(locale, "app.fullName")}` }];
};

/**
 * `GET|POST /join/:campaignId` — the public campaign page and its application form. No account:
 * anyone may read a published campaign and apply; a draft (or an unknown id) is a 404. The form is
 * CSRF-protected by the anonymous double-submit cookie, works without JavaScript, and keeps what
 * was typed when it comes back with errors.
 */
export async function loader({ params, context }: LoaderFunctionArgs) {
  const campaignId = requireUuidParam(params.campaignId);
  const campaign = await scoped(() => getPublicCampaign(context.db, campaignId, new Date()));
  return { campaign };
}

type ApplyFailure = FormFailure & { channels: string[] };

export async function action({ request, params, context }: ActionFunctionArgs) {
  const campaignId = requireUuidParam(params.campaignId);
  const { form, documents, problem } = await readFormWithFiles(request, "documents");
  await requireCsrf(request, context, form);
  const values: Record<string, string> = {};
  for (const field of APPLICATION_FORM_FIELDS) {
    const value = form.get(field);
    if (typeof value === "string") values[field] = value.slice(0, RECRUITMENT_LIMITS.notesChars + 100);
  }
  const channels = form
    .getAll("channels")
    .filter((v): v is string => typeof v === "string")
    .slice(0, SALES_CHANNELS.length * 2);
  const raw: Record<string, unknown> = {
    companyName: values.companyName ?? "",
    uscc: values.uscc ?? "",
    legalRepresentative: values.legalRepresentative ?? "",
    contactName: values.contactName ?? "",
    contactPhone: values.contactPhone ?? "",
    contactEmail: values.contactEmail ?? "",
    region: values.region ?? "",
    channels,
    notes: values.notes ?? "",
  };
  // The campaign must exist (and be public) before its form can be wrong.
  const campaign = await scoped(() => getPublicCampaign(context.db, campaignId, new Date()));
  const parsed = applicationInputSchema.safeParse(raw);
  const regionUnknown = Boolean(values.region) && !campaign.regions.includes((values.region ?? "").normalize("NFKC").trim());
  if (!parsed.success || problem || regionUnknown) {
    // Every problem at once: the schema's, the upload's, and the region against this campaign's.
    const fieldErrors = parsed.success ? {} : issuesToFields(parsed.error);
    if (problem) fieldErrors.documents = problem;
    if (regionUnknown) fieldErrors.region ??= "region_unknown";
    return data<ApplyFailure>({ ...fieldFailure("apply", fieldErrors, values), channels }, { status: 422 });
  }
  const actor: Actor = { userId: null, organizationId: null, ip: context.ip, requestId: context.requestId };
  try {
    const submitted = await submitApplication(context.db, actor, { campaignId, input: raw, documents, now: new Date() });
    return redirect(submitted.statusPath, {
      headers: { "Set-Cookie": await flashCookie(context, { key: "recruitment.flash.submitted" }), "Referrer-Policy": "no-referrer" },
    });
  } catch (error) {
    const { failure, status } = formFailure(error, "apply", values, [...APPLICATION_FORM_FIELDS, "channels", "documents"]);
    return data<ApplyFailure>({ ...failure, channels }, { status });
  }
}

export default function JoinCampaign() {
  const { campaign } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const t = useT();
  const locale = useLocale();
  const channelLabel = useChannelLabel();
  const e = result?.fieldErrors ?? {};
  const v = result?.values ?? {};
  const coreName = locale === "en" && campaign.coreEnterpriseNameEn ? campaign.coreEnterpriseNameEn : campaign.coreEnterpriseName;
  const hasFieldErrors = Object.keys(e).length > 0;
  return (
    <div className="rc-page">
      <header className="rc-hero">
        <p className="eyebrow">{t("recruitment.public.by", { name: coreName })}</p>
        <h1>{campaign.title}</h1>
        {campaign.description ? <p className="rc-prose">{campaign.description}</p> : null}
      </header>

      <dl className="rc-facts" style={{ marginBottom: "1.25rem" }}>
        <div>
          <dt>{t("recruitment.public.placesLeft")}</dt>
          <dd>{t("recruitment.public.places", { left: campaign.placesLeft, quota: campaign.quota })}</dd>
        </div>
        <div>
          <dt>{t("recruitment.public.deposit")}</dt>
          <dd>{campaign.depositFen > 0 ? formatFen(campaign.depositFen, locale) : t("recruitment.public.depositNone")}</dd>
        </div>
        <div>
          <dt>{t("recruitment.public.closesOn")}</dt>
          <dd>{t("recruitment.public.closesOnValue", { date: formatDate(campaign.closesOn, locale) })}</dd>
        </div>
      </dl>

      <div className="rc-cols">
        <div>
          {campaign.notAccepting ? (
            <p className="rc-closed" role="status">
              {t(
                campaign.notAccepting === "closed"
                  ? "recruitment.public.notAccepting.closed"
                  : campaign.notAccepting === "past_closing"
                    ? "recruitment.public.notAccepting.past_closing"
                    : campaign.notAccepting === "full"
                      ? "recruitment.public.notAccepting.full"
                      : "recruitment.public.notAccepting.draft",
              )}
            </p>
          ) : (
            <section className="panel" aria-labelledby="apply-heading">
              <h2 id="apply-heading">{t("recruitment.public.apply")}</h2>
              <p className="subtle small">{t("recruitment.public.applyIntro")}</p>
              <Form method="post" encType="multipart/form-data" noValidate>
                <CsrfInput />
                <FormProblem
                  lead={t("recruitment.public.notSent")}
                  problem={result?.formProblem}
                  message={result?.formMessage}
                  fallback={hasFieldErrors ? t("recruitment.public.fixFields") : undefined}
                />
                <div className="rc-grid">
                  <TextInput className="wide" name="companyName" label={t("recruitment.public.companyName")} required maxLength={200} autoComplete="organization" defaultValue={v.companyName} error={e.companyName} />
                  <TextInput
                    name="uscc"
                    label={t("recruitment.public.uscc")}
                    required
                    maxLength={24}
                    autoComplete="off"
                    defaultValue={v.uscc}
                    error={e.uscc}
                    hint={t("recruitment.public.usccHint")}
                  />
                  <TextInput name="legalRepresentative" label={t("recruitment.public.legalRepresentative")} required maxLength={50} defaultValue={v.legalRepresentative} error={e.legalRepresentative} />
                  <TextInput name="contactName" label={t("recruitment.public.contactName")} required maxLength={50} autoComplete="name" defaultValue={v.contactName} error={e.contactName} />
                  <TextInput name="contactPhone" type="tel" label={t("recruitment.public.contactPhone")} required maxLength={30} autoComplete="tel" defaultValue={v.contactPhone} error={e.contactPhone} />
                  <TextInput
                    className="wide"
                    name="contactEmail"
                    type="email"
                    label={t("recruitment.public.contactEmail")}
                    required
                    maxLength={254}
                    autoComplete="email"
                    defaultValue={v.contactEmail}
                    error={e.contactEmail}
                    hint={t("recruitment.public.contactEmailHint")}
                  />
                  <Select
                    className="wide"
                    name="region"
                    label={t("recruitment.public.region")}
                    required
                    options={[{ value: "", label: t("recruitment.public.chooseRegion") }, ...campaign.regions.map((r) => ({ value: r, label: r }))]}
                    defaultValue={v.region ?? ""}
                    error={e.region}
                  />
                  <Checkboxes
                    className="wide"
                    name="channels"
                    label={t("recruitment.public.channels")}
                    required
                    hint={t("recruitment.public.channelsHint")}
                    options={SALES_CHANNELS.map((c) => ({ value: c, label: channelLabel(c) }))}
                    checked={result?.channels ?? []}
                    error={e.channels}
                  />
                  <TextArea className="wide" name="notes" label={t("recruitment.public.notes")} rows={3} maxLength={2000} defaultValue={v.notes} error={e.notes} />
                  <FileInput
                    className="wide"
                    name="documents"
                    label={t("recruitment.public.documents")}
                    multiple
                    hint={result ? `${t("recruitment.public.documentsHint")} · ${t("recruitment.public.reselectFiles")}` : t("recruitment.public.documentsHint")}
                    error={e.documents}
                  />
                </div>
                <button type="submit" className="rc-button large" disabled={navigation.state === "submitting"}>
                  {t("recruitment.public.apply")}
                </button>
                <p className="subtle small" style={{ marginTop: "0.75rem" }}>
                  {t("recruitment.public.privacy", { name: coreName })}
                </p>
              </Form>
            </section>
          )}
        </div>
        <aside>
          <section className="panel">
            <h2>{t("recruitment.public.regions")}</h2>
            <ul className="rc-regions">
              {campaign.regions.map((r) => (
                <li key={r}>{r}</li>
              ))}
            </ul>
          </section>
          {campaign.requirements ? (
            <section className="panel">
              <h2>{t("recruitment.public.requirements")}</h2>
              <p className="rc-prose">{campaign.requirements}</p>
            </section>
          ) : null}
        </aside>
      </div>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
