import { Link } from "@remix-run/react";
import type { ReactNode } from "react";
import { formatDateTime, translateDynamic, type Locale } from "~/i18n";
import { useLocale } from "~/i18n/react";

/**
 * Building blocks of the recruitment pages. Field errors arrive as problem codes and are shown as
 * `recruitment.problem.<code>` in the reader's language; an unknown code shows as written.
 */

export function problemText(locale: Locale, code: string | null | undefined): string | null {
  return code ? translateDynamic(locale, `recruitment.problem.${code}`, code) : null;
}

export function useProblem(): (code: string | null | undefined) => string | null {
  const locale = useLocale();
  return (code) => problemText(locale, code);
}

interface FieldShell {
  name: string;
  label: string;
  error?: string | null;
  hint?: string;
  required?: boolean;
  className?: string;
  idPrefix?: string;
}

function describedBy(id: string, error?: string | null, hint?: string): string | undefined {
  const ids = [error ? `${id}-error` : null, hint ? `${id}-hint` : null].filter(Boolean);
  return ids.length ? ids.join(" ") : undefined;
}

function Shell(props: FieldShell & { id: string; children: ReactNode; labelFor?: boolean }) {
  const problem = useProblem();
  return (
    <div className={`rc-field ${props.className ?? ""}`}>
      {props.labelFor === false ? (
        <span className="rc-label" id={`${props.id}-label`}>
          {props.label}
          {props.required ? <span className="req" aria-hidden="true">*</span> : null}
        </span>
      ) : (
        <label htmlFor={props.id}>
          {props.label}
          {props.required ? <span className="req" aria-hidden="true">*</span> : null}
        </label>
      )}
      {props.children}
      {/* The error right under the field it is about, then the standing hint. */}
      {props.error ? (
        <p className="field-error" id={`${props.id}-error`} role="alert">
          {problem(props.error)}
        </p>
      ) : null}
      {props.hint ? (
        <p className="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}

export function TextInput(
  props: FieldShell & {
    defaultValue?: string;
    type?: "text" | "email" | "tel" | "date" | "password";
    maxLength?: number;
    inputMode?: "numeric" | "decimal" | "text" | "tel" | "email";
    autoComplete?: string;
    placeholder?: string;
    disabled?: boolean;
  },
) {
  const id = `${props.idPrefix ?? ""}${props.name}`;
  return (
    <Shell {...props} id={id}>
      <input
        id={id}
        name={props.name}
        type={props.type ?? "text"}
        defaultValue={props.defaultValue}
        maxLength={props.maxLength}
        inputMode={props.inputMode}
        autoComplete={props.autoComplete}
        placeholder={props.placeholder}
        disabled={props.disabled}
        required={props.required}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={describedBy(id, props.error, props.hint)}
      />
    </Shell>
  );
}

export function TextArea(props: FieldShell & { defaultValue?: string; maxLength?: number; rows?: number; disabled?: boolean }) {
  const id = `${props.idPrefix ?? ""}${props.name}`;
  return (
    <Shell {...props} id={id}>
      <textarea
        id={id}
        name={props.name}
        defaultValue={props.defaultValue}
        maxLength={props.maxLength}
        rows={props.rows ?? 4}
        disabled={props.disabled}
        required={props.required}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={describedBy(id, props.error, props.hint)}
      />
    </Shell>
  );
}

export function Select(props: FieldShell & { defaultValue?: string; options: { value: string; label: string }[]; disabled?: boolean }) {
  const id = `${props.idPrefix ?? ""}${props.name}`;
  return (
    <Shell {...props} id={id}>
      <select
        id={id}
        name={props.name}
        defaultValue={props.defaultValue}
        disabled={props.disabled}
        required={props.required}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={describedBy(id, props.error, props.hint)}
      >
        {props.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </Shell>
  );
}

export function Checkboxes(props: FieldShell & { options: { value: string; label: string }[]; checked: readonly string[] }) {
  const id = `${props.idPrefix ?? ""}${props.name}`;
  return (
    <Shell {...props} id={id} labelFor={false}>
      <div
        className="rc-checks"
        role="group"
        aria-labelledby={`${id}-label`}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={describedBy(id, props.error, props.hint)}
      >
        {props.options.map((o) => (
          <label key={o.value}>
            <input type="checkbox" name={props.name} value={o.value} defaultChecked={props.checked.includes(o.value)} />
            {o.label}
          </label>
        ))}
      </div>
    </Shell>
  );
}

export function FileInput(props: FieldShell & { multiple?: boolean }) {
  const id = `${props.idPrefix ?? ""}${props.name}`;
  return (
    <Shell {...props} id={id}>
      <input
        id={id}
        name={props.name}
        type="file"
        multiple={props.multiple}
        accept=".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"
        aria-invalid={props.error ? true : undefined}
        aria-describedby={describedBy(id, props.error, props.hint)}
      />
    </Shell>
  );
}

/** A refusal no field explains, or a summary that the fields below need correcting. */
export function FormProblem(props: { lead: string; problem?: string | null; message?: string | null; fallback?: string }) {
  const problem = useProblem();
  const text = problem(props.problem) ?? props.message ?? props.fallback ?? null;
  if (!text) return null;
  return (
    <p className="rc-form-error" role="alert">
      <strong>{props.lead}</strong> {text}
    </p>
  );
}

export function CampaignState({ status }: { status: string }) {
  const locale = useLocale();
  return <span className={`rc-state ${status}`}>{translateDynamic(locale, `recruitment.campaignStatus.${status}`, status)}</span>;
}

export function ApplicationState({ status }: { status: string }) {
  const locale = useLocale();
  return <span className={`rc-state ${status}`}>{translateDynamic(locale, `recruitment.status.${status}`, status)}</span>;
}

export interface TimelineItem {
  id: number;
  event: string;
  actorKind: string;
  actorName: string | null;
  message: string;
  at: Date | string;
}

export function Timeline({ items }: { items: TimelineItem[] }) {
  const locale = useLocale();
  return (
    <ol className="rc-timeline">
      {items.map((item) => (
        <li key={item.id}>
          <div className="when">
            {formatDateTime(item.at, locale)} · {item.actorName ?? translateDynamic(locale, `recruitment.actor.${item.actorKind}`, item.actorKind)}
          </div>
          <div className="what">{translateDynamic(locale, `recruitment.event.${item.event}`, item.event)}</div>
          {item.message ? <blockquote>{item.message}</blockquote> : null}
        </li>
      ))}
    </ol>
  );
}

/** Bytes as people read them (1.2 MB). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export function useChannelLabel(): (code: string) => string {
  const locale = useLocale();
  return (code) => translateDynamic(locale, `recruitment.channel.${code}`, code);
}

export function Back({ to, label }: { to: string; label: string }) {
  return (
    <p>
      <Link to={to}>← {label}</Link>
    </p>
  );
}
