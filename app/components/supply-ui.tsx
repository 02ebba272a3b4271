import { Link } from "@remix-run/react";
import type { ReactNode } from "react";
import { translateDynamic } from "~/i18n";
import { useLocale, useT } from "~/i18n/react";

/**
 * Small building blocks of the supply-chain pages. Errors arrive as problem codes (see
 * supply-chain-access.server.ts) and are translated here; an unknown code shows as written.
 */

export function useProblemText(): (code: string | undefined) => string | null {
  const locale = useLocale();
  return (code) => (code ? translateDynamic(locale, `catalog.problem.${code}`, code) : null);
}

interface FieldProps {
  name: string;
  label: string;
  error?: string;
  hint?: string;
  required?: boolean;
  className?: string;
  /** The form this field belongs to, when it sits outside the <form> element (table rows). */
  form?: string;
  children?: ReactNode;
}

function describedBy(name: string, error?: string, hint?: string, prefix = "") {
  const ids = [error ? `${prefix}${name}-error` : null, hint ? `${prefix}${name}-hint` : null].filter(Boolean);
  return ids.length ? ids.join(" ") : undefined;
}

export function TextField(
  props: FieldProps & {
    defaultValue?: string;
    type?: "text" | "number" | "date" | "search";
    inputMode?: "numeric" | "decimal" | "text";
    maxLength?: number;
    disabled?: boolean;
    placeholder?: string;
    idPrefix?: string;
  },
) {
  const problem = useProblemText();
  const id = `${props.idPrefix ?? ""}${props.name}`;
  return (
    <div className={`sc-field ${props.className ?? ""}`}>
      <label htmlFor={id}>
        {props.label}
        {props.required ? (
          <span className="req" aria-hidden="true">
            *
          </span>
        ) : null}
      </label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? "text"}
        inputMode={props.inputMode}
        defaultValue={props.defaultValue}
        maxLength={props.maxLength}
        disabled={props.disabled}
        placeholder={props.placeholder}
        required={props.required}
        form={props.form}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={describedBy(props.name, props.error, props.hint, props.idPrefix)}
      />
      {props.hint ? (
        <p className="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      ) : null}
      {props.error ? (
        <p className="field-error" id={`${id}-error`}>
          {problem(props.error)}
        </p>
      ) : null}
    </div>
  );
}

export function SelectField(
  props: FieldProps & {
    defaultValue?: string;
    options: { value: string; label: string }[];
    disabled?: boolean;
    idPrefix?: string;
  },
) {
  const problem = useProblemText();
  const id = `${props.idPrefix ?? ""}${props.name}`;
  return (
    <div className={`sc-field ${props.className ?? ""}`}>
      <label htmlFor={id}>
        {props.label}
        {props.required ? (
          <span className="req" aria-hidden="true">
            *
          </span>
        ) : null}
      </label>
      <select
        id={id}
        name={props.name}
        defaultValue={props.defaultValue}
        disabled={props.disabled}
        required={props.required}
        form={props.form}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={describedBy(props.name, props.error, props.hint, props.idPrefix)}
      >
        {props.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {props.hint ? (
        <p className="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      ) : null}
      {props.error ? (
        <p className="field-error" id={`${id}-error`}>
          {problem(props.error)}
        </p>
      ) : null}
    </div>
  );
}

export function FormError({ message }: { message: string | null | undefined }) {
  const t = useT();
  if (!message) return null;
  return (
    <p className="sc-form-error" role="alert">
      <strong>{t("catalog.form.notSaved")}</strong> {message}
    </p>
  );
}

/** Field errors of the form that was sent (`intent`), or nothing for the other forms on the page. */
export function errorsFor(
  data: { intent?: string; fieldErrors?: Record<string, string> } | undefined,
  intent: string,
): Record<string, string> {
  return data && data.intent === intent && data.fieldErrors ? data.fieldErrors : {};
}

export function valuesFor(data: { intent?: string; values?: Record<string, string> } | undefined, intent: string): Record<string, string> | null {
  return data && data.intent === intent && data.values ? data.values : null;
}

/** A status as a coloured tag; `scope` picks the wording (a SKU is 上架, a dealer 合作中). */
export function StateTag({ state, scope = "catalog" }: { state: string; scope?: "catalog" | "dealers" }) {
  const locale = useLocale();
  return <span className={`sc-state ${state}`}>{translateDynamic(locale, `${scope}.state.${state}`, state)}</span>;
}

export function RuleTag({ rule }: { rule: string }) {
  const locale = useLocale();
  return <span className={`sc-rule ${rule}`}>{translateDynamic(locale, `pricing.rule.${rule}`, rule)}</span>;
}

/** Keyset pagination: "next page" when there is one, and "back to the first page" when not on it. */
export function Pager({ nextHref, firstHref, onFirstPage }: { nextHref: string | null; firstHref: string; onFirstPage: boolean }) {
  const t = useT();
  if (!nextHref && onFirstPage) return null;
  return (
    <nav className="sc-pager" aria-label={t("catalog.pager.label")}>
      {onFirstPage ? <span /> : <Link to={firstHref}>← {t("catalog.pager.first")}</Link>}
      {nextHref ? (
        <Link to={nextHref} rel="next">
          {t("catalog.pager.next")} →
        </Link>
      ) : (
        <span className="sc-muted">{t("catalog.pager.end")}</span>
      )}
    </nav>
  );
}

/** A URL with some search params set (null/empty removes them). */
export function withParams(pathname: string, current: URLSearchParams, changes: Record<string, string | null>): string {
  const params = new URLSearchParams(current);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === "") params.delete(key);
    else params.set(key, value);
  }
  const query = params.toString();
  return query ? `${pathname}?${query}` : pathname;
}
