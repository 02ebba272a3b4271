import { sql, type RawBuilder } from "kysely";
import type { Db } from "../../../db";

/**
 * What order placement reads about an organisation — a core enterprise's dealer links, SKUs and
 * prices, a dealer's order settings, the organisation itself — carries a version, raised in the same
 * transaction by every statement that changes it (migration 0013). Data read together with the
 * versions can be kept and planned on later, provided the statement that writes what was planned
 * also asserts the versions are unchanged (`versionsUnchanged`): then it was planned on data as
 * current as a fresh read would have found it (decision 017).
 */

/** Organisation id → the version the data relied on was read at. */
export type ReliedVersions = Map<string, number>;

/** The versions of these organisations' reference data, for `readTogether`; one never changed has no row (version 0). */
export function referenceVersionsQuery(db: Db, organizationIds: readonly string[]) {
  return db
    .selectFrom("reference_versions")
    .select(["organization_id", "version"])
    .where("organization_id", "=", sql<string>`any(${[...new Set(organizationIds)]}::uuid[])`);
}

/** The rows of `referenceVersionsQuery` for `organizationIds`, with 0 for those without a row. */
export function versionsFromRows(organizationIds: readonly string[], rows: readonly Record<string, unknown>[]): Map<string, number> {
  const versions = new Map(organizationIds.map((id) => [id, 0]));
  for (const row of rows) versions.set(String(row.organization_id), Number(row.version));
  return versions;
}

/**
 * True, in SQL, when every organisation is still at the version relied on: for the `rongtong_assert`
 * of the statement that writes what was planned on kept data. Two array parameters, whatever the
 * number of organisations, so the statement keeps one text.
 */
export function versionsUnchanged(relied: ReadonlyMap<string, number>): RawBuilder<boolean> {
  return sql<boolean>`not exists (
    select 1 from unnest(${[...relied.keys()]}::uuid[], ${[...relied.values()]}::bigint[]) as r (organization_id, version)
      left join reference_versions v on v.organization_id = r.organization_id
     where coalesce(v.version, 0) <> r.version)`;
}

interface Kept {
  value: unknown;
  versions: readonly (readonly [organizationId: string, version: number])[];
}

/**
 * Values kept under keys, each with the versions of the organisations it was read at. A batch takes
 * values only while they agree on each organisation's version (`take`), and then relies on exactly
 * those versions. A value found out of date is not dropped: the fresh read that follows keeps the
 * current one under the same key. Bounded: past `maxEntries` the entry kept longest ago is dropped.
 */
export class VersionedCache {
  readonly #entries = new Map<string, Kept>();

  constructor(private readonly maxEntries: number) {}

  keep(key: string, value: unknown, versions: Kept["versions"]): void {
    // Kept again, a key moves to the back; past the bound, the longest kept goes first.
    this.#entries.delete(key);
    if (this.#entries.size >= this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { value, versions });
  }

  /**
   * The value kept under `key`, if it was read at the versions `relied` already holds for its
   * organisations (those it names for the first time are added); undefined when there is none or
   * it was read at another version.
   */
  take<T>(key: string, relied: ReliedVersions): T | undefined {
    const kept = this.#entries.get(key);
    if (!kept) return undefined;
    for (const [organizationId, version] of kept.versions) {
      const already = relied.get(organizationId);
      if (already !== undefined && already !== version) return undefined;
    }
    for (const [organizationId, version] of kept.versions) relied.set(organizationId, version);
    return kept.value as T;
  }

  /** The value kept under `key` at whatever versions: something to read ahead on, never to decide on. */
  peek<T>(key: string): T | undefined {
    return this.#entries.get(key)?.value as T | undefined;
  }

  get size(): number {
    return this.#entries.size;
  }
}
