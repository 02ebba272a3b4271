import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { useActionData, useLoaderData } from "@remix-run/react";
import { CampaignForm, type CampaignFormValues } from "~/components/recruitment-campaign-form";
import { Back } from "~/components/recruitment-ui";
import { RouteError } from "~/components/route-error";
import { pageTitle } from "~/i18n/meta";
import { useT } from "~/i18n/react";
import { listTiers } from "~/domain/pricing";
import { fieldFailure, formFailure, keepValues, requireRecruiter, type FormFailure } from "~/web/recruitment-forms.server";
import { CAMPAIGN_FORM_FIELDS, campaignFieldForForm, createCampaign, parseCampaignForm } from "~/domain/recruitment";
import { flashCookie, requireCsrf } from "~/session.server";
import styles from "~/styles/recruitment.css";
import { addDays, shanghaiDate } from "~/domain/shared";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "recruitment.form.newTitle");

/** `GET|POST /campaigns/new` — a new campaign, saved as a draft. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organizationId } = await requireRecruiter(request, context, { may: "campaign.write" });
  const tiers = await listTiers(context.db, organizationId);
  // A sensible start: a month to apply, 30-day terms.
  const defaults: CampaignFormValues = {
    title: "",
    description: "",
    requirements: "",
    regions: "",
    quota: "10",
    depositYuan: "0",
    closesOn: addDays(shanghaiDate(new Date()), 30),
    tierId: "",
    creditLimitYuan: "0",
    paymentTermsDays: "30",
  };
  return { tiers: tiers.map((tier) => ({ value: tier.id, label: tier.name })), defaults };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId, actor } = await requireRecruiter(request, context, { may: "campaign.write" });
  const values = keepValues(form, CAMPAIGN_FORM_FIELDS);
  const parsed = parseCampaignForm(values);
  if (!parsed.ok) return data<FormFailure>(fieldFailure("create", parsed.fieldErrors, values), { status: 422 });
  try {
    const campaign = await createCampaign(context.db, actor, organizationId, parsed.input, { now: new Date() });
    return redirect(`/campaigns/${campaign.id}`, { headers: { "Set-Cookie": await flashCookie(context, { key: "recruitment.flash.created" }) } });
  } catch (error) {
    const { failure, status } = formFailure(error, "create", values, CAMPAIGN_FORM_FIELDS, campaignFieldForForm);
    return data<FormFailure>(failure, { status });
  }
}

export default function NewCampaign() {
  const { tiers, defaults } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const t = useT();
  const values: CampaignFormValues = { ...defaults, ...(result?.values ?? {}) };
  return (
    <div className="rc-page rc-narrow">
      <Back to="/campaigns" label={t("recruitment.back")} />
      <h1>{t("recruitment.form.newTitle")}</h1>
      <CampaignForm
        values={values}
        fieldErrors={result?.fieldErrors ?? {}}
        formProblem={result?.formProblem ?? null}
        formMessage={result?.formMessage ?? null}
        tiers={tiers}
        termsFixed={false}
        submitLabel={t("recruitment.form.saveDraft")}
      />
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
