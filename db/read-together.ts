/** A row as it comes back through JSON: instants and dates as ISO text, numbers as numbers. */
export type JsonRow = Record<string, unknown>;

/** An instant read through JSON (`timestamptz` as ISO text) as a Date. */
export function jsonInstant(value: unknown): Date {
  if (value instanceof Date) return value;
  if (typeof value !== "string") throw new TypeError(`expected an instant, got ${typeof value}`);
  return new Date(value);
}
