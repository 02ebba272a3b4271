/**
 * One end of a business-date range (a statement, a dashboard): a native date input, and the
 * refusal next to it in the reader's words (the page translates the field's code).
 */
export function DateField(props: { name: "from" | "to"; label: string; value: string; errorText?: string }) {
  return (
    <div className="sc-field">
      <label htmlFor={`range-${props.name}`}>{props.label}</label>
      <input
        id={`range-${props.name}`}
        name={props.name}
        type="date"
        defaultValue={props.value}
        aria-invalid={props.errorText ? true : undefined}
        aria-describedby={props.errorText ? `range-${props.name}-error` : undefined}
      />
      {props.errorText ? (
        <p className="field-error" id={`range-${props.name}-error`}>
          {props.errorText}
        </p>
      ) : null}
    </div>
  );
}
