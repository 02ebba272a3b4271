import { Form, useNavigation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { FormProblem, Select, TextArea, TextInput } from "~/components/recruitment-ui";
import { useT } from "~/i18n/react";

/** The campaign form of the new and edit pages: the same fields, values as typed, errors by field. */

export interface CampaignFormValues {
  title: string;
  description: string;
  requirements: string;
  regions: string;
  quota: string;
  depositYuan: string;
  closesOn: string;
  tierId: string;
  creditLimitYuan: string;
  paymentTermsDays: string;
}

export function CampaignForm(props: {
  values: CampaignFormValues;
  fieldErrors: Record<string, string>;
  formProblem: string | null;
  formMessage: string | null;
  tiers: { value: string; label: string }[];
  /** Published: deposit, tier, credit and terms are fixed (shown, not editable). */
  termsFixed: boolean;
  submitLabel: string;
}) {
  const t = useT();
  const navigation = useNavigation();
  const busy = navigation.state === "submitting";
  const { values, fieldErrors: e } = props;
  const hasFieldErrors = Object.keys(e).length > 0;
  return (
    <Form method="post" noValidate>
      <CsrfInput />
      <FormProblem
        lead={t("recruitment.form.notSaved")}
        problem={props.formProblem}
        message={props.formMessage}
        fallback={hasFieldErrors ? t("recruitment.public.fixFields") : undefined}
      />
      <section className="panel">
        <h2>{t("recruitment.form.sectionAbout")}</h2>
        <div className="rc-grid">
          <TextInput className="wide" name="title" label={t("recruitment.field.title")} required maxLength={100} defaultValue={values.title} error={e.title} />
          <TextArea className="wide" name="description" label={t("recruitment.field.description")} rows={5} maxLength={4000} defaultValue={values.description} error={e.description} />
          <TextArea className="wide" name="requirements" label={t("recruitment.field.requirements")} rows={4} maxLength={4000} defaultValue={values.requirements} error={e.requirements} />
          <TextArea
            className="wide"
            name="regions"
            label={t("recruitment.field.regions")}
            required
            rows={4}
            maxLength={3100}
            defaultValue={values.regions}
            error={e.regions}
            hint={t("recruitment.field.regionsHint")}
          />
          <TextInput name="quota" label={t("recruitment.field.quota")} required inputMode="numeric" maxLength={6} defaultValue={values.quota} error={e.quota} />
          <TextInput
            name="closesOn"
            type="date"
            label={t("recruitment.field.closesOn")}
            required
            defaultValue={values.closesOn}
            error={e.closesOn}
            hint={t("recruitment.field.closesOnHint")}
          />
        </div>
      </section>
      <section className="panel">
        <h2>{t("recruitment.form.sectionTerms")}</h2>
        {props.termsFixed ? <p className="notice">{t("recruitment.form.termsFixed")}</p> : null}
        {/* Disabled inputs are not sent: the fixed terms travel as hidden fields so the form stays whole. */}
        {props.termsFixed ? (
          <>
            <input type="hidden" name="depositYuan" value={values.depositYuan} />
            <input type="hidden" name="tierId" value={values.tierId} />
            <input type="hidden" name="creditLimitYuan" value={values.creditLimitYuan} />
            <input type="hidden" name="paymentTermsDays" value={values.paymentTermsDays} />
          </>
        ) : null}
        <div className="rc-grid">
          <TextInput
            name="depositYuan"
            idPrefix={props.termsFixed ? "fixed-" : ""}
            label={t("recruitment.field.depositYuan")}
            inputMode="decimal"
            maxLength={20}
            defaultValue={values.depositYuan}
            error={e.depositYuan}
            hint={t("recruitment.field.depositHint")}
            disabled={props.termsFixed}
          />
          <Select
            name="tierId"
            idPrefix={props.termsFixed ? "fixed-" : ""}
            label={t("recruitment.field.tier")}
            options={[{ value: "", label: t("recruitment.field.noTier") }, ...props.tiers]}
            defaultValue={values.tierId}
            error={e.tierId}
            disabled={props.termsFixed}
          />
          <TextInput
            name="creditLimitYuan"
            idPrefix={props.termsFixed ? "fixed-" : ""}
            label={t("recruitment.field.creditLimitYuan")}
            inputMode="decimal"
            maxLength={20}
            defaultValue={values.creditLimitYuan}
            error={e.creditLimitYuan}
            disabled={props.termsFixed}
          />
          <TextInput
            name="paymentTermsDays"
            idPrefix={props.termsFixed ? "fixed-" : ""}
            label={t("recruitment.field.paymentTermsDays")}
            inputMode="numeric"
            maxLength={3}
            defaultValue={values.paymentTermsDays}
            error={e.paymentTermsDays}
            disabled={props.termsFixed}
          />
        </div>
      </section>
      <button type="submit" className="rc-button large" disabled={busy}>
        {props.submitLabel}
      </button>
    </Form>
  );
}
