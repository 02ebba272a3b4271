import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { useActionData, useLoaderData } from "@remix-run/react";
import { CampaignForm, type CampaignFormValues } from "~/components/recruitment-campaign-form";
import { Back } from "~/components/recruitment-ui";
import { RouteError } from "~/components/route-error";
import { pageTitle } from "~/i18n/meta";
import { useT } from "~/i18n/react";
import { fenToYuanText } from "~/domain/catalog";
import { listTiers } from "~/domain/pricing";
import { fieldFailure, formFailure, keepValues, requireRecruiter, type FormFailure } from "~/web/recruitment-forms.server";
import { CAMPAIGN_FORM_FIELDS, campaignFieldForForm, getCampaign, parseCampaignForm, updateCampaign } from "~/domain/recruitment";
import { requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, requireCsrf } from "~/session.server";
import styles from "~/styles/recruitment.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "recruitment.form.editTitle");

/** `GET|POST /campaigns/:campaignId/edit` — change a draft freely, a published campaign within limits. */
export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organizationId } = await requireRecruiter(request, context, { may: "campaign.write" });
  const campaignId = requireUuidParam(params.campaignId);
  const campaign = await scoped(() => getCampaign(context.db, organizationId, campaignId));
  // A closed campaign no longer changes: its page says so, there is nothing to edit.
  if (campaign.status === "closed") throw redirect(`/campaigns/${campaign.id}`);
  const tiers = await listTiers(context.db, organizationId);
  const values: CampaignFormValues = {
    title: campaign.title,
    description: campaign.description,
    requirements: campaign.requirements,
    regions: campaign.regions.join("\n"),
    quota: String(campaign.quota),
    depositYuan: fenToYuanText(campaign.depositFen),
    closesOn: campaign.closesOn,
    tierId: campaign.tierId ?? "",
    creditLimitYuan: fenToYuanText(campaign.creditLimitFen),
    paymentTermsDays: String(campaign.paymentTermsDays),
  };
  return { id: campaign.id, title: campaign.title, termsFixed: campaign.status === "published", values, tiers: tiers.map((tier) => ({ value: tier.id, label: tier.name })) };
}

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const { organizationId, actor } = await requireRecruiter(request, context, { may: "campaign.write" });
  const campaignId = requireUuidParam(params.campaignId);
  const values = keepValues(form, CAMPAIGN_FORM_FIELDS);
  const parsed = parseCampaignForm(values);
  if (!parsed.ok) {
    // Another tenant's id is a 404 even when the form is also wrong.
    await scoped(() => getCampaign(context.db, organizationId, campaignId));
    return data<FormFailure>(fieldFailure("edit", parsed.fieldErrors, values), { status: 422 });
  }
  try {
    await updateCampaign(context.db, actor, organizationId, campaignId, parsed.input, { now: new Date() });
    return redirect(`/campaigns/${campaignId}`, { headers: { "Set-Cookie": await flashCookie(context, { key: "recruitment.flash.saved" }) } });
  } catch (error) {
    const { failure, status } = formFailure(error, "edit", values, CAMPAIGN_FORM_FIELDS, campaignFieldForForm);
    return data<FormFailure>(failure, { status });
  }
}

export default function EditCampaign() {
  const { id, title, termsFixed, values, tiers } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const t = useT();
  return (
    <div className="rc-page rc-narrow">
      <Back to={`/campaigns/${id}`} label={title} />
      <h1>{t("recruitment.form.editTitle")}</h1>
      <CampaignForm
        values={{ ...values, ...(result?.values ?? {}) }}
        fieldErrors={result?.fieldErrors ?? {}}
        formProblem={result?.formProblem ?? null}
        formMessage={result?.formMessage ?? null}
        tiers={tiers}
        termsFixed={termsFixed}
        submitLabel={t("recruitment.form.save")}
      />
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
