import { Form, useNavigation } from "@remix-run/react";
import { CsrfInput } from "~/components/csrf-input";
import { FormError, SelectField, TextField } from "~/components/supply-ui";
import { useT } from "~/i18n/react";

/** The SKU form, for create and edit: the fields `skuEntrySchema` reads, grouped as a user thinks. */

export const SKU_FORM_FIELDS = [
  "code",
  "name",
  "spec",
  "productCode",
  "productName",
  "category",
  "unit",
  "packSize",
  "moq",
  "basePrice",
  "taxRate",
  "stockOnHand",
  "status",
] as const;

const UNITS = ["台", "件", "箱", "套", "张", "个", "组"];

export function SkuForm(props: {
  values: Partial<Record<(typeof SKU_FORM_FIELDS)[number], string>>;
  fieldErrors: Record<string, string>;
  formError: string | null;
  taxRates: { value: string; label: string }[];
  readOnly: boolean;
  submitLabel: string;
  reservedNote?: string;
}) {
  const t = useT();
  const navigation = useNavigation();
  const busy = navigation.state === "submitting";
  const { values: v, fieldErrors: e, readOnly } = props;
  return (
    <Form method="post" noValidate>
      <CsrfInput />
      <FormError message={props.formError} />
      <fieldset className="sc-fieldset" disabled={readOnly}>
        <legend>{t("catalog.form.basics")}</legend>
        <div className="sc-grid">
          <TextField name="code" label={t("catalog.field.code")} required defaultValue={v.code} error={e.code} maxLength={64} hint={t("catalog.hint.code")} />
          <TextField name="name" label={t("catalog.field.name")} required defaultValue={v.name} error={e.name} maxLength={200} className="wide" />
          <TextField name="spec" label={t("catalog.field.spec")} defaultValue={v.spec} error={e.spec} maxLength={200} className="wide" />
          <TextField name="productCode" label={t("catalog.field.productCode")} defaultValue={v.productCode} error={e.productCode} maxLength={64} hint={t("catalog.hint.productCode")} />
          <TextField name="productName" label={t("catalog.field.productName")} defaultValue={v.productName} error={e.productName} maxLength={200} hint={t("catalog.hint.productName")} />
          <TextField name="category" label={t("catalog.field.category")} defaultValue={v.category} error={e.category} maxLength={50} />
        </div>
      </fieldset>
      <fieldset className="sc-fieldset" disabled={readOnly}>
        <legend>{t("catalog.form.selling")}</legend>
        <div className="sc-grid">
          <div className="sc-field">
            <label htmlFor="unit">
              {t("catalog.field.unit")}
              <span className="req" aria-hidden="true">
                *
              </span>
            </label>
            <input
              id="unit"
              name="unit"
              type="text"
              list="unit-options"
              defaultValue={v.unit}
              maxLength={10}
              required
              aria-invalid={e.unit ? true : undefined}
              aria-describedby={e.unit ? "unit-error" : undefined}
            />
            <datalist id="unit-options">
              {UNITS.map((u) => (
                <option key={u} value={u} />
              ))}
            </datalist>
            {e.unit ? <UnitError code={e.unit} /> : null}
          </div>
          <TextField name="packSize" label={t("catalog.field.packSize")} inputMode="numeric" defaultValue={v.packSize ?? "1"} error={e.packSize} hint={t("catalog.hint.packSize")} />
          <TextField name="moq" label={t("catalog.field.moq")} inputMode="numeric" defaultValue={v.moq} error={e.moq} hint={t("catalog.hint.moq")} />
          <TextField name="basePrice" label={t("catalog.field.basePriceYuan")} required inputMode="decimal" defaultValue={v.basePrice} error={e.basePrice} hint={t("catalog.hint.basePrice")} />
          <SelectField name="taxRate" label={t("catalog.field.taxRate")} required defaultValue={v.taxRate ?? "13"} error={e.taxRate} options={props.taxRates} />
          <SelectField
            name="status"
            label={t("catalog.field.status")}
            defaultValue={v.status ?? "active"}
            error={e.status}
            options={[
              { value: "active", label: t("catalog.state.active") },
              { value: "inactive", label: t("catalog.state.inactive") },
            ]}
          />
        </div>
      </fieldset>
      <fieldset className="sc-fieldset" disabled={readOnly}>
        <legend>{t("catalog.form.stock")}</legend>
        <div className="sc-grid">
          <TextField name="stockOnHand" label={t("catalog.field.stockOnHand")} inputMode="numeric" defaultValue={v.stockOnHand ?? "0"} error={e.stockOnHand} hint={props.reservedNote} />
        </div>
      </fieldset>
      {readOnly ? null : (
        <button type="submit" className="sc-button" disabled={busy}>
          {props.submitLabel}
        </button>
      )}
    </Form>
  );
}

function UnitError({ code }: { code: string }) {
  const t = useT();
  return (
    <p className="field-error" id="unit-error">
      {code === "required" ? t("catalog.problem.required") : t("catalog.problem.too_long")}
    </p>
  );
}
