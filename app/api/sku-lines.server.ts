import type { Db } from "../../db";
import { getSkusByCodes, normalizeSkuCode } from "../domain/catalog";
import { DomainError, isUuid } from "../domain/shared";

/**
 * API lines name a SKU by id or by code; the pricing model wants ids. Two queries whatever the
 * number of lines, scoped to one core enterprise's catalogue; every unknown SKU is reported by line
 * (`lines.3.sku_code`), nothing is priced when any is unknown.
 */
export async function resolveSkuLines(
  db: Db,
  coreEnterpriseId: string,
  lines: readonly { sku_id?: string; sku_code?: string; quantity: number }[],
): Promise<{ skuId: string; code: string; quantity: number }[]> {
  const codes = lines.flatMap((l) => (l.sku_code !== undefined ? [l.sku_code] : []));
  const byCode = codes.length ? await getSkusByCodes(db, coreEnterpriseId, codes) : new Map<string, { id: string; code: string }>();
  const ids = [...new Set(lines.flatMap((l) => (l.sku_id !== undefined && isUuid(l.sku_id) ? [l.sku_id.toLowerCase()] : [])))];
  const codeOfId = new Map<string, string>();
  if (ids.length) {
    const rows = await db.selectFrom("skus").select(["id", "code"]).where("core_enterprise_id", "=", coreEnterpriseId).where("id", "in", ids).execute();
    for (const row of rows) codeOfId.set(row.id, row.code);
  }
  const unknown: Record<string, string> = {};
  const resolved = lines.map((line, i) => {
    if (line.sku_id !== undefined) {
      const id = line.sku_id.toLowerCase();
      const code = codeOfId.get(id);
      if (!code) unknown[`lines.${i}.sku_id`] = "unknown_sku";
      return { skuId: id, code: code ?? "", quantity: line.quantity };
    }
    const sku = byCode.get(normalizeSkuCode(line.sku_code ?? ""));
    if (!sku) unknown[`lines.${i}.sku_code`] = "unknown_sku";
    return { skuId: sku?.id ?? "", code: sku?.code ?? "", quantity: line.quantity };
  });
  if (Object.keys(unknown).length) throw new DomainError("validation", "Some lines name a SKU that is not in this catalogue", unknown);
  return resolved;
}

/**
 * The orders and pricing models name "the SKU of line N" `lines.N.sku` (or `lines.N.skuId`); the
 * caller named it by `sku_code` or `sku_id`, and its error must point at what it sent. For
 * `implement(…, { fieldNames })`; other names fall through to `map`, then snake_case.
 */
export function skuLineFieldNames(map: Record<string, string> = {}) {
  return (name: string, body: unknown): string | undefined => {
    const match = /^lines\.(\d+)\.(?:sku|skuId|skuCode)$/.exec(name);
    if (!match) return map[name];
    const lines = (body as { lines?: unknown } | null)?.lines;
    const line = Array.isArray(lines) ? (lines[Number(match[1])] as Record<string, unknown> | undefined) : undefined;
    const sentId = line !== null && typeof line === "object" && "sku_id" in line && !("sku_code" in line);
    return `lines.${match[1]}.${sentId ? "sku_id" : "sku_code"}`;
  };
}
