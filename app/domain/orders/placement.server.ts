import { randomUUID } from "node:crypto";
import { type Expression, type Insertable, type RawBuilder, type Selectable, sql } from "kysely";
import { type Db, inTransaction } from "../../../db";
import { readTogether } from "../../../db/read-together";
import { type ArrayColumns, insertFromArrays, selectFromArrays } from "../../../db/unnest";
import type { AuditEventsTable, OrderLinesTable, SeasonsTable } from "../../../db/schema";
import { type Actor, type AuditEntry, auditRows, DomainError, GroupCommit, type Settled, isUuid, shanghaiDate } from "../shared";
import { getSkusByCodes, getSkusByIds, orderQuantityProblem, type Sku, SKU_LIMITS, skusByCodesQuery, skusByIdsQuery, skusFromRows } from "../catalog";
import { creditLineCodes, creditLinesQuery, planCreditHolds, planCreditHoldsOn } from "../credit";
import { activeDealerLinksQuery, type DealerLink, dealerLinkKey, dealerLinksByPair, findActiveDealerLinks } from "../dealers";
import { type AccountRow, type AccountSnapshot, accountSnapshotFromRows, applyBatch, type BatchOperation, type Fen, type PreparedTransfers, prepareTransfers, STATEMENT_ASSERTION_FAILED } from "../ledger";
import { enqueueAll, enqueueClause, type OutboxJob, type Trx } from "../outbox";
import { findTransition, INITIAL_STATUS, type OrderEvent, type OrderKind, type OrderStatus } from "./states";
import { referenceVersionsQuery, type ReliedVersions, VersionedCache, versionsFromRows, versionsUnchanged } from "./reference-versions.server";
import { candidateQueries, type CandidatesFor, candidatesFromRows, type LinkForPricing, loadCandidatesForLinks, resolvePrice } from "../pricing";
import { ORDER_LIMITS, type OrderRow } from "./orders.server";
import { creditHoldKey, formatOrderNumber, type NewOrderEvent, orderColumnsReturned, orderNumberPrefix, orderNumbersQuery, reserveOrderNumbers } from "./internal.server";
import { orderNoticeJob } from "./notices.server";

/** Placing orders in one step (quick order, CSV, API), several callers at once (group commit, decisions 015–017). */

const LINE_ARRAY_COLUMNS = [
  ["order_id", "uuid"],
  ["line_no", "integer"],
  ["sku_id", "uuid"],
  ["sku_code", "text"],
  ["sku_name", "text"],
  ["spec", "text"],
  ["unit", "text"],
  ["quantity_ordered", "integer"],
  ["unit_price_fen", "bigint"],
  ["price_rule", "text"],
  ["tax_rate_bps", "integer"],
  ["amount_fen", "bigint"],
] as const satisfies ArrayColumns<Insertable<OrderLinesTable>>;

const EVENT_ARRAY_COLUMNS = [
  ["order_id", "uuid"],
  ["actor_user_id", "uuid"],
  ["actor_organization_id", "uuid"],
  ["event", "text"],
  ["from_status", "text"],
  ["to_status", "text"],
  ["note", "text"],
  ["data", "jsonb"],
] as const satisfies ArrayColumns<NewOrderEvent>;

const AUDIT_ARRAY_COLUMNS = [
  ["actor_user_id", "uuid"],
  ["organization_id", "uuid"],
  ["action", "text"],
  ["entity_type", "text"],
  ["entity_id", "text"],
  ["before", "jsonb"],
  ["after", "jsonb"],
  ["ip", "text"],
  ["request_id", "text"],
] as const satisfies ArrayColumns<Insertable<AuditEventsTable>>;

const ORDER_ARRAY_COLUMNS = [
  ["id", "uuid"],
  ["number_prefix", "text"],
  ["kind", "text"],
  ["status", "text"],
  ["core_enterprise_id", "uuid"],
  ["dealer_id", "uuid"],
  ["dealer_link_id", "uuid"],
  ["season_id", "uuid"],
  ["note", "text"],
  ["total_fen", "bigint"],
  ["payment_method", "text"],
  ["created_by_user_id", "uuid"],
  ["submitted_at", "timestamptz"],
] as const;

// ---------------------------------------------------------------------------------------------
// Cart and order creation

export interface LineInput {
  /** Either a SKU id or a SKU code. */
  skuId?: string;
  skuCode?: string;
  quantity: number;
}

interface PricedLine {
  sku: Sku;
  quantity: number;
  unitPriceFen: Fen;
  rule: string;
  taxRateBps: number;
}

function checkLineCount(lines: readonly LineInput[]): void {
  if (lines.length === 0) throw new DomainError("validation", "An order needs at least one line", { lines: "empty" });
  if (lines.length > ORDER_LIMITS.maxLines) {
    throw new DomainError("validation", `An order has at most ${ORDER_LIMITS.maxLines} lines`, { lines: "too_many" });
  }
}

/** A core enterprise's SKUs named by the lines of one or more orders, by code and by id. */
interface SkuLookup {
  byCode: Map<string, Sku>;
  byId: Map<string, Sku>;
}

/** One query for the codes and one for the ids of each core enterprise, in chunks the catalogue allows. */
async function lookUpSkus(db: Db, coreEnterpriseId: string, lines: readonly LineInput[]): Promise<SkuLookup> {
  const lookup: SkuLookup = { byCode: new Map(), byId: new Map() };
  const codes = [...new Set(lines.filter((l) => !l.skuId).map((l) => (l.skuCode ?? "").trim().toUpperCase()))];
  const ids = [...new Set(lines.filter((l) => l.skuId).map((l) => l.skuId!))];
  const chunk = SKU_LIMITS.maxCodesPerLookup;
  for (let i = 0; i < codes.length; i += chunk) {
    for (const [code, sku] of await getSkusByCodes(db, coreEnterpriseId, codes.slice(i, i + chunk))) lookup.byCode.set(code, sku);
  }
  for (let i = 0; i < ids.length; i += chunk) {
    for (const [id, sku] of await getSkusByIds(db, coreEnterpriseId, ids.slice(i, i + chunk))) lookup.byId.set(id, sku);
  }
  return lookup;
}

/**
 * Check lines against the catalogue: every problem is reported by line (`lines.<n>.sku` /
 * `lines.<n>.quantity`) in one refusal.
 */
function checkLines(lines: readonly LineInput[], skus: SkuLookup): { sku: Sku; quantity: number }[] {
  checkLineCount(lines);
  const fields: Record<string, string> = {};
  // The same problems as stable codes, for the API (pages show the words in `fields`).
  const codes: Record<string, string> = {};
  const resolved: { sku: Sku; quantity: number }[] = [];
  const seen = new Set<string>();
  lines.forEach((line, i) => {
    const sku = line.skuId ? skus.byId.get(line.skuId.toLowerCase()) : skus.byCode.get((line.skuCode ?? "").trim().toUpperCase());
    const label = line.skuCode ?? line.skuId ?? "";
    if (!sku) {
      fields[`lines.${i}.sku`] = `unknown SKU ${label}`.trim();
      codes[`lines.${i}.sku`] = "unknown";
      return;
    }
    if (sku.status !== "active") {
      fields[`lines.${i}.sku`] = `SKU ${sku.code} is not on sale`;
      codes[`lines.${i}.sku`] = "not_on_sale";
      return;
    }
    if (seen.has(sku.id)) {
      fields[`lines.${i}.sku`] = `SKU ${sku.code} appears twice: put the quantities on one line`;
      codes[`lines.${i}.sku`] = "duplicate";
      return;
    }
    seen.add(sku.id);
    const problem = orderQuantityProblem(sku, line.quantity);
    if (problem) {
      fields[`lines.${i}.quantity`] = `${sku.code}: ${problem.message}`;
      codes[`lines.${i}.quantity`] = problem.code;
      return;
    }
    resolved.push({ sku, quantity: line.quantity });
  });
  if (Object.keys(fields).length) {
    const count = Object.keys(fields).length;
    throw new DomainError("validation", `${count} line${count > 1 ? "s" : ""} cannot be ordered: ${Object.values(fields).join("; ")}`, fields, codes);
  }
  return resolved;
}

function priceChecked(link: DealerLink, checked: readonly { sku: Sku; quantity: number }[], candidatesFor: CandidatesFor): PricedLine[] {
  return checked.map(({ sku, quantity }) => {
    const price = resolvePrice(candidatesFor(link, sku), quantity);
    return { sku, quantity, unitPriceFen: price.unitPriceFen, rule: price.rule, taxRateBps: sku.taxRateBps };
  });
}

/**
 * Resolve, check and price lines for a dealer. Every problem is reported by line and nothing is
 * written when any line is wrong.
 */
export async function priceLines(db: Db, link: DealerLink, lines: readonly LineInput[], now: Date): Promise<PricedLine[]> {
  checkLineCount(lines);
  const checked = checkLines(lines, await lookUpSkus(db, link.coreEnterpriseId, lines));
  const candidatesFor = await loadCandidatesForLinks(db, [{ link, skus: checked.map((c) => c.sku) }], shanghaiDate(now));
  return priceChecked(link, checked, candidatesFor);
}

function linesTotal(lines: readonly PricedLine[]): Fen {
  const total = lines.reduce((sum, line) => sum + line.unitPriceFen * line.quantity, 0);
  if (!Number.isSafeInteger(total)) throw new DomainError("validation", "The order total is too large", { lines: "total_too_large" });
  return total;
}

/** The rows of an order's lines, numbered from 1 in the order given. */
function lineValues(orderId: string, lines: readonly PricedLine[]): Insertable<OrderLinesTable>[] {
  return lines.map((line, i) => ({
    order_id: orderId,
    line_no: i + 1,
    sku_id: line.sku.id,
    sku_code: line.sku.code,
    sku_name: line.sku.name,
    spec: line.sku.spec,
    unit: line.sku.unit,
    quantity_ordered: line.quantity,
    unit_price_fen: line.unitPriceFen,
    price_rule: line.rule,
    tax_rate_bps: line.taxRateBps,
    amount_fen: line.unitPriceFen * line.quantity,
  }));
}

/** The order's lines in one INSERT; returns the total. */
export async function writeLines(trx: Db, orderId: string, lines: readonly PricedLine[]): Promise<Fen> {
  const total = linesTotal(lines);
  if (lines.length === 0) return total;
  await trx.insertInto("order_lines").values(lineValues(orderId, lines)).execute();
  return total;
}

export interface CreateOrderInput {
  dealerId: string;
  coreEnterpriseId: string;
  kind: Exclude<OrderKind, "return">;
  lines: readonly LineInput[];
  seasonId?: string | null;
  note?: string | null;
  /** Default true: submitted (or sent for the dealer's approval) at once. */
  submit?: boolean;
  /**
   * `on_account`: the total is held on the dealer's credit line as the order is submitted (refused
   * when the line cannot take it), charged for the confirmed total when the supplier confirms, and
   * released if the order is rejected, declined or cancelled first. Standard and replenishment
   * orders only (a preorder's deposit is paid, not put on account).
   */
  paymentMethod?: "on_account" | null;
}

/**
 * Place an order in one step (quick order, CSV, API): lines by SKU code or id, priced for this
 * dealer now, then submitted unless `submit` is false (which puts it in the cart instead).
 *
 * Orders placed at the same moment share a transaction (group commit, decision 015): each caller
 * still gets its own order or its own refusal, and one refusal never refuses another. Inside a
 * caller's transaction the order is placed in it, alone. `now` is the caller's and stays with its
 * placement in a batch: each order is priced, numbered and stamped at its own caller's time.
 */
export async function createOrder(db: Db, actor: Actor, input: CreateOrderInput, now: Date): Promise<OrderRow> {
  if (actor.organizationId !== input.dealerId) throw new DomainError("forbidden", "Only the dealer places its orders", { dealer_id: "not yours" });
  const note = (input.note ?? "").trim();
  if (note.length > ORDER_LIMITS.maxNoteChars) throw new DomainError("validation", "The note is too long", { note: "too_long" });
  if (input.paymentMethod !== undefined && input.paymentMethod !== null && input.paymentMethod !== "on_account") {
    throw new DomainError("validation", "An order is put on account at submission, or paid after confirmation", { payment_method: "on_account or nothing" });
  }
  if (input.paymentMethod === "on_account" && input.kind === "preorder") {
    throw new DomainError("validation", "A preorder's deposit is paid, not put on account", { payment_method: "not for preorders" });
  }
  if (input.paymentMethod === "on_account" && input.submit === false) {
    throw new DomainError("validation", "An order goes on account when it is submitted, not while it is in the cart", { payment_method: "submit the order" });
  }
  const placement: Placement = { actor, input: { ...input, note }, now };
  if (db.isTransaction) return settle((await placeOrders(db, [placement]))[0]);
  return placementQueue(db).submit(placement);
}

interface Placement {
  actor: Actor;
  input: CreateOrderInput & { note: string };
  now: Date;
}

const settle = <T>(outcome: Settled<T>): T => {
  if (outcome.ok) return outcome.value;
  throw outcome.error;
};

const placementQueues = new WeakMap<Db, GroupCommit<Placement, OrderRow>>();

/** The group committer of this database's order placements, made on first use. */
function placementQueue(db: Db): GroupCommit<Placement, OrderRow> {
  let queue = placementQueues.get(db);
  if (!queue) {
    queue = new GroupCommit<Placement, OrderRow>((batch) => placeOrders(db, batch), PLACEMENT_GROUP_COMMIT);
    placementQueues.set(db, queue);
  }
  return queue;
}

/** How many placements share a transaction at most, and how many such transactions run at once. */
export const PLACEMENT_GROUP_COMMIT = { maxBatch: 32, maxInFlight: 2, maxWaiting: 1_024 } as const;

/**
 * Place several orders at once, in a fixed number of statements whatever their number: the dealer
 * links, order settings and seasons, and the SKUs (per core enterprise); then the prices (per tier,
 * and the overrides) with, outside a caller's transaction, the credit lines and order numbers; then
 * one statement that writes everything (placeInOneStatement, decision 016), or, inside a caller's
 * transaction or when that statement finds a credit line changed, the locked way: the lines locked,
 * one INSERT for the orders with their lines, timeline and audit rows, the notice jobs, the holds.
 * A batch whose every link, SKU and price was kept from earlier reads skips the reads (decision
 * 017).
 * Each placement is checked on its own: a refusal is its caller's, and writes nothing of it.
 */
async function placeOrders(db: Db, placements: readonly Placement[], keptAllowed = true): Promise<Settled<OrderRow>[]> {
  const outcomes: (Settled<OrderRow> | undefined)[] = placements.map(() => undefined);
  const refuse = (i: number, error: unknown) => {
    outcomes[i] = { ok: false, error };
  };
  // What the placements read is read before the transaction, the independent reads at once (on
  // their own connections in server mode). Under READ COMMITTED a read inside the transaction would
  // guarantee no more: nothing here is locked, and what must hold at the write is held by the
  // write itself (foreign keys, the credit lines' locks).
  const dealerIds = [...new Set(placements.map((p) => p.input.dealerId).filter(isUuid))];
  const seasonIds = [...new Set(placements.flatMap((p) => (p.input.kind === "preorder" && p.input.seasonId && isUuid(p.input.seasonId) ? [p.input.seasonId] : [])))];
  const linesByCore = new Map<string, LineInput[]>();
  for (const p of placements) {
    if (!isUuid(p.input.coreEnterpriseId) || !Array.isArray(p.input.lines)) continue;
    const lines = linesByCore.get(p.input.coreEnterpriseId) ?? [];
    lines.push(...p.input.lines);
    linesByCore.set(p.input.coreEnterpriseId, lines);
  }
  // Outside a caller's transaction the orders are written by one statement (placeInOneStatement):
  // the credit lines it plans on and the order numbers it uses are read beforehand.
  const oneStatement = !db.isTransaction;
  const pairs = placements.map((p) => ({ coreEnterpriseId: p.input.coreEnterpriseId, dealerId: p.input.dealerId }));
  // The reads in one statement (readTogether) when the batch is the common kind: no preorder
  // season to read, and no more SKUs per supplier than one lookup takes.
  const together = oneStatement && seasonIds.length === 0 && [...linesByCore.values()].every((lines) => lines.length <= SKU_LIMITS.maxCodesPerLookup);
  // When everything the batch needs was kept from earlier reads, at versions that agree, no read
  // at all: the write asserts those versions (decision 017).
  const kept = together && keptAllowed ? takeKept(db, placements) : null;
  // Otherwise the prices and credit lines depend on the links and SKUs the first reads find. When
  // every link and SKU these name was kept (at whatever version), they are read with the first
  // reads, on those keys, and used only if the first reads find the same keys (wantedAsRemembered).
  const remembered = together && !kept ? rememberedKeys(db, placements) : null;
  let versionsRead: Map<string, number> | null = null;
  let early: PricesAndCreditLines | null = null;
  let links: Map<string, DealerLink>;
  let thresholdRows: { organization_id: string; approval_threshold_fen: number | null }[];
  let seasonRows: Selectable<SeasonsTable>[] = [];
  let skusByCore: Map<string, SkuLookup>;
  let numbers: string[] | null = null;
  if (kept) {
    ({ links, thresholdRows, skusByCore, numbers } = kept);
  } else if (together) {
    const ahead = remembered ? priceAndCreditQueries(db, placements, remembered.wanted, true) : null;
    const organizationIds = [...new Set(pairs.flatMap((pair) => [pair.coreEnterpriseId, pair.dealerId]).filter(isUuid).map((id) => id.toLowerCase()))];
    const queries: Record<string, Expression<unknown>> = {
      settings: approvalThresholdsQuery(db, dealerIds),
      numbers: orderNumbersQuery(placements.length),
      versions: referenceVersionsQuery(db, organizationIds),
      ...(ahead ? ahead.queries : {}),
    };
    const linksQuery = activeDealerLinksQuery(db, pairs);
    if (linksQuery) queries.links = linksQuery;
    const cores = [...linesByCore];
    cores.forEach(([coreEnterpriseId, lines], k) => {
      const byCode = skusByCodesQuery(db, coreEnterpriseId, lines.filter((l) => !l.skuId).map((l) => l.skuCode ?? ""));
      const byId = skusByIdsQuery(db, coreEnterpriseId, lines.filter((l) => l.skuId).map((l) => l.skuId!));
      if (byCode) queries[`skus_by_code_${k}`] = byCode;
      if (byId) queries[`skus_by_id_${k}`] = byId;
    });
    const rows = await readTogether(db, queries);
    links = dealerLinksByPair(rows.links ?? []);
    thresholdRows = rows.settings as typeof thresholdRows;
    numbers = rows.numbers.map((row) => String(row.n));
    skusByCore = new Map(
      cores.map(([coreEnterpriseId], k) => {
        const lookup: SkuLookup = { byCode: new Map(), byId: new Map() };
        for (const sku of skusFromRows(rows[`skus_by_code_${k}`] ?? [])) lookup.byCode.set(sku.code, sku);
        for (const sku of skusFromRows(rows[`skus_by_id_${k}`] ?? [])) lookup.byId.set(sku.id, sku);
        return [coreEnterpriseId, lookup] as const;
      }),
    );
    if (ahead) early = ahead.decode(rows);
    versionsRead = versionsFromRows(organizationIds, rows.versions);
  } else {
    let skuLookups: (readonly [string, SkuLookup])[];
    [links, thresholdRows, seasonRows, skuLookups, numbers] = await Promise.all([
      findActiveDealerLinks(db, pairs),
      approvalThresholdsQuery(db, dealerIds).execute(),
      seasonIds.length ? db.selectFrom("seasons").selectAll().where("id", "=", sql<string>`any(${seasonIds}::uuid[])`).execute() : Promise.resolve([]),
      Promise.all([...linesByCore].map(async ([coreEnterpriseId, lines]) => [coreEnterpriseId, await lookUpSkus(db, coreEnterpriseId, lines)] as const)),
      oneStatement ? reserveOrderNumbers(db, placements.length) : null,
    ]);
    skusByCore = new Map(skuLookups);
  }
  const thresholds = new Map(thresholdRows.map((row) => [row.organization_id, row.approval_threshold_fen]));
  const seasons = new Map(seasonRows.map((row) => [row.id, row]));

  const linkOf: (DealerLink | undefined)[] = placements.map((placement, i) => {
    const { input } = placement;
    const link = links.get(dealerLinkKey(input.coreEnterpriseId, input.dealerId));
    try {
      if (!link) {
        throw new DomainError("not_found", "This supplier is not open to you: the dealer relationship is missing or suspended", {
          core_enterprise_id: "no active dealer relationship",
        });
      }
      if (input.kind === "preorder") checkOpenSeason(seasons, input.coreEnterpriseId, input.seasonId ?? null);
      else if (input.seasonId) throw new DomainError("validation", "Only a preorder books against a season", { season_id: "preorder only" });
      checkLineCount(input.lines);
      return link;
    } catch (error) {
      refuse(i, error);
      return undefined;
    }
  });
  const checked = placements.map((p, i) => {
    if (!linkOf[i]) return undefined;
    try {
      return checkLines(p.input.lines, skusByCore.get(p.input.coreEnterpriseId)!);
    } catch (error) {
      refuse(i, error);
      return undefined;
    }
  });

  // Prices: placed together means placed at the same instant, but each keeps its own clock's date.
  const byDate = new Map<string, number[]>();
  placements.forEach((p, i) => {
    if (!checked[i]) return;
    const on = shanghaiDate(p.now);
    byDate.set(on, [...(byDate.get(on) ?? []), i]);
  });
  const priced: (PricedLine[] | undefined)[] = placements.map(() => undefined);
  const wanted = placements.map((p, i) => (checked[i] ? { link: linkOf[i]!, skus: checked[i]!.map((c) => c.sku) } : undefined));
  const read = kept
    ? kept.read
    : early && remembered && wantedAsRemembered(wanted, remembered.wanted)
      ? early
      : await readPricesAndCreditLines(db, placements, wanted, oneStatement, together);
  for (const [on, indexes] of byDate) {
    for (const i of indexes) priced[i] = priceChecked(linkOf[i]!, checked[i]!, read.candidatesByDate.get(on)!);
  }
  const creditLines = read.creditLines;

  // What each accepted placement will be: its id, total and status.
  const planned = new Map<number, PlannedOrder>();
  placements.forEach((p, i) => {
    const lines = priced[i];
    if (!lines) return;
    try {
      const total = linesTotal(lines);
      const thresholdFen = p.input.submit === false ? null : (thresholds.get(p.input.dealerId) ?? null);
      const event: OrderEvent | null = p.input.submit === false ? null : thresholdFen !== null && total > thresholdFen ? "submit_for_approval" : "submit";
      const to = event ? findTransition(p.input.kind, INITIAL_STATUS[p.input.kind], event)!.to : INITIAL_STATUS[p.input.kind];
      planned.set(i, { id: randomUUID(), total, link: linkOf[i]!, lines, event, to, thresholdFen });
    } catch (error) {
      refuse(i, error);
    }
  });

  if (kept && outcomes.some((outcome) => outcome !== undefined)) {
    // A refusal is decided on a fresh read, never on kept data.
    kept.giveBack();
    return placeOrders(db, placements, false);
  }
  if (versionsRead) keepReads(db, versionsRead, placements, linkOf, checked, thresholds, read);

  if (creditLines && numbers && planned.size > 0) {
    const placed = await placeInOneStatement(db, placements, planned, creditLines, numbers, kept?.relied ?? null);
    if (placed) {
      for (const [i, row] of placed) outcomes[i] = { ok: true, value: row };
      return outcomes.map((outcome) => outcome ?? { ok: false, error: new Error("placeOrders: a placement was neither placed nor refused") });
    }
    if (kept) {
      // Something kept changed (or a credit line moved): plan again on a fresh read.
      kept.giveBack();
      return placeOrders(db, placements, false);
    }
  }

  await inTransaction(db, async (trx) => {
    // Credit: the lines of every order on account locked at once, each order checked in turn.
    const { onAccount, requests } = creditHoldRequests(placements, planned);
    const { locked, plans } = await planCreditHolds(trx, requests);
    const holds: BatchOperation[] = [];
    onAccount.forEach(([i], k) => {
      const plan = plans[k];
      if (plan.ok) holds.push(plan.hold);
      else {
        planned.delete(i);
        refuse(i, plan.error);
      }
    });

    if (planned.size > 0) {
      const accepted = [...planned];
      const { events, audits, lineRows, orderRows } = placementRows(placements, accepted);
      // One statement: the orders, and in data-modifying WITH clauses their lines, timeline and audit
      // rows (the foreign keys are checked at the end of the statement, when all are in). One array
      // per column: the same statement text and parameter count whatever the number of orders.
      const { rows: inserted } = await sql<OrderRow>`
        with lines_written as (${insertFromArrays("order_lines", lineRows, LINE_ARRAY_COLUMNS)}),
             timeline as (${insertFromArrays("order_events", events, EVENT_ARRAY_COLUMNS)}),
             audit as (${insertFromArrays("audit_events", audits, AUDIT_ARRAY_COLUMNS)})
        insert into orders (id, number, kind, status, core_enterprise_id, dealer_id, dealer_link_id, season_id, note, total_fen, payment_method,
                            created_by_user_id, submitted_at)
        select v.id, v.number_prefix || lpad(v.n::text, greatest(6, length(v.n::text)), '0'),
               v.kind, v.status, v.core_enterprise_id, v.dealer_id, v.dealer_link_id, v.season_id, v.note, v.total_fen, v.payment_method,
               v.created_by_user_id, v.submitted_at
          -- nextval in the select list of the rows themselves: once per row (a scalar subquery around
          -- it would be evaluated once and give every order the same number).
          from (select a.*, nextval('order_number_seq') as n from (${selectFromArrays(orderRows, ORDER_ARRAY_COLUMNS)}) as a) as v
        returning ${sql.join(orderColumnsReturned.map((column) => (typeof column === "string" ? sql.ref(column) : column)))}`.execute(trx);
      const byId = new Map(inserted.map((row) => [row.id, row]));
      for (const [i, plan] of accepted) outcomes[i] = { ok: true, value: byId.get(plan.id)! };
      await enqueueAll(trx as Trx, placementNoticeJobs(placements, accepted));
      await applyBatch(trx, holds, { locked });
    }
  });
  return outcomes.map((outcome) => outcome ?? { ok: false, error: new Error("placeOrders: a placement was neither placed nor refused") });
}

/** The dealers' approval thresholds (orders above one wait for the dealer's approver). */
function approvalThresholdsQuery(db: Db, dealerIds: readonly string[]) {
  return db.selectFrom("order_settings").select(["organization_id", "approval_threshold_fen"]).where("organization_id", "=", sql<string>`any(${[...dealerIds]}::uuid[])`);
}

/** What the prices of each placement are read for: its link and the SKUs of its lines. */
type Wanted = { link: LinkForPricing; skus: readonly { id: string }[] } | undefined;

interface PricesAndCreditLines {
  candidatesByDate: Map<string, CandidatesFor>;
  creditLines: AccountSnapshot | null;
}

/**
 * The queries for the prices of the placements' lines (per business date: each placement keeps its
 * own clock's date) and, when `withCreditLines`, the credit lines of those on account, named for
 * `readTogether`, with what makes their results into prices and a snapshot of the lines.
 */
function priceAndCreditQueries(db: Db, placements: readonly Placement[], wanted: readonly Wanted[], withCreditLines: boolean) {
  const byDate = new Map<string, NonNullable<Wanted>[]>();
  placements.forEach((p, i) => {
    const w = wanted[i];
    if (!w) return;
    const on = shanghaiDate(p.now);
    byDate.set(on, [...(byDate.get(on) ?? []), w]);
  });
  const dates = [...byDate].map(([on, list]) => ({ on, queries: candidateQueries(db, list, on) }));
  const onAccountLinks = [...new Set(placements.flatMap((p, i) => (wanted[i] && p.input.paymentMethod === "on_account" ? [wanted[i]!.link.id] : [])))];
  const queries: Record<string, Expression<unknown>> = {};
  dates.forEach(({ queries: q }, d) => {
    q.tiers.forEach(({ query }, k) => (queries[`prices_${d}_tier_${k}`] = query));
    if (q.overrides) queries[`prices_${d}_overrides`] = q.overrides;
  });
  if (withCreditLines && onAccountLinks.length) queries.credit_lines = creditLinesQuery(db, onAccountLinks);
  const decode = (rows: Record<string, readonly unknown[]>): PricesAndCreditLines => ({
    candidatesByDate: new Map(
      dates.map(({ on, queries: q }, d) => [on, candidatesFromRows(q, q.tiers.map((_, k) => rows[`prices_${d}_tier_${k}`] ?? []), rows[`prices_${d}_overrides`] ?? [])]),
    ),
    creditLines: withCreditLines ? accountSnapshotFromRows((rows.credit_lines ?? []) as Record<string, unknown>[]) : null,
  });
  return { queries, decode };
}

/** The prices and (outside a caller's transaction) credit lines of the placements: in one statement when `together`. */
async function readPricesAndCreditLines(db: Db, placements: readonly Placement[], wanted: readonly Wanted[], withCreditLines: boolean, together: boolean): Promise<PricesAndCreditLines> {
  const { queries, decode } = priceAndCreditQueries(db, placements, wanted, withCreditLines);
  if (together) return decode(await readTogether(db, queries));
  const names = Object.keys(queries);
  const results = await Promise.all(names.map((name) => (queries[name] as unknown as { execute(): Promise<unknown[]> }).execute()));
  return decode(Object.fromEntries(names.map((name, i) => [name, results[i]])));
}

function skuKey(coreEnterpriseId: string, line: LineInput): string {
  return line.skuId ? `${coreEnterpriseId}#${line.skuId.toLowerCase()}` : `${coreEnterpriseId}:${(line.skuCode ?? "").trim().toUpperCase()}`;
}

/** What the placements' prices would be read for if their links and SKUs are still those kept last; null when one was never kept. */
function rememberedKeys(db: Db, placements: readonly Placement[]): { wanted: Wanted[] } | null {
  const cache = referenceCaches.get(db);
  if (!cache) return null;
  const wanted: Wanted[] = [];
  for (const { input } of placements) {
    const link = cache.peek<DealerLink>(`link:${dealerLinkKey(input.coreEnterpriseId, input.dealerId)}`);
    if (!link || !Array.isArray(input.lines)) return null;
    const skus: { id: string }[] = [];
    for (const line of input.lines) {
      const sku = cache.peek<Sku>(`sku:${skuKey(input.coreEnterpriseId, line)}`);
      if (!sku) return null;
      skus.push({ id: sku.id });
    }
    wanted.push({ link, skus });
  }
  return { wanted };
}

/**
 * Whether prices read ahead for `remembered` are the prices for `actual`: the same link (id, tier)
 * and, among the SKUs read ahead, every SKU the lines turned out to name. The prices themselves
 * were read at the same moment as the links and SKUs, so they are as current as reading them after.
 */
function wantedAsRemembered(actual: readonly Wanted[], remembered: readonly Wanted[]): boolean {
  return actual.every((a, i) => {
    if (!a) return true;
    const r = remembered[i];
    if (!r || r.link.id !== a.link.id || r.link.tierId !== a.link.tierId || r.link.coreEnterpriseId !== a.link.coreEnterpriseId) return false;
    const ids = new Set(r.skus.map((sku) => sku.id));
    return a.skus.every((sku) => ids.has(sku.id));
  });
}

/**
 * What order placement reads, kept per database between placements under the versions of the
 * organisations it belongs to (decision 017): links with the dealers' approval thresholds, SKUs,
 * prices, and the credit lines' accounts (a hint only: the ledger's guarded UPDATE decides). At most
 * `REFERENCE_CACHE_MAX` entries (a few megabytes).
 */
const referenceCaches = new WeakMap<Db, VersionedCache>();
const REFERENCE_CACHE_MAX = 20_000;

function referenceCache(db: Db): VersionedCache {
  let cache = referenceCaches.get(db);
  if (!cache) referenceCaches.set(db, (cache = new VersionedCache(REFERENCE_CACHE_MAX)));
  return cache;
}

/** Order numbers taken from the sequence by an earlier placement's statement, for the next. */
const orderNumberPools = new WeakMap<Db, string[]>();

function orderNumberPool(db: Db): string[] {
  let pool = orderNumberPools.get(db);
  if (!pool) orderNumberPools.set(db, (pool = []));
  return pool;
}

type Candidates = ReturnType<CandidatesFor>;

const priceKey = (on: string, link: LinkForPricing, sku: { id: string }) => `price:${on}|${link.id}|${link.tierId ?? ""}|${sku.id}`;

interface KeptReads {
  links: Map<string, DealerLink>;
  thresholdRows: { organization_id: string; approval_threshold_fen: number | null }[];
  skusByCore: Map<string, SkuLookup>;
  numbers: string[];
  read: PricesAndCreditLines;
  /** The versions the batch was planned at, for the statement to assert. */
  relied: ReliedVersions;
  /** Return the order numbers taken, when the batch is placed another way. */
  giveBack(): void;
}

/** Everything the placements read, from what was kept, when all of it was kept at agreeing versions; null otherwise. */
function takeKept(db: Db, placements: readonly Placement[]): KeptReads | null {
  const cache = referenceCaches.get(db);
  const pool = orderNumberPools.get(db);
  if (!cache || !pool || pool.length < placements.length) return null;
  const relied: ReliedVersions = new Map();
  const links = new Map<string, DealerLink>();
  const thresholdRows: KeptReads["thresholdRows"] = [];
  const skusByCore = new Map<string, SkuLookup>();
  const candidatesByKey = new Map<string, Candidates>();
  const creditRows = new Map<string, AccountRow>();
  for (const { input, now } of placements) {
    if (!isUuid(input.coreEnterpriseId) || !isUuid(input.dealerId) || !Array.isArray(input.lines)) return null;
    const pair = dealerLinkKey(input.coreEnterpriseId, input.dealerId);
    const link = cache.take<DealerLink>(`link:${pair}`, relied);
    const thresholdFen = cache.take<Fen | null>(`threshold:${input.dealerId.toLowerCase()}`, relied);
    if (!link || thresholdFen === undefined) return null;
    links.set(pair, link);
    if (thresholdFen !== null) thresholdRows.push({ organization_id: input.dealerId, approval_threshold_fen: thresholdFen });
    const lookup = skusByCore.get(input.coreEnterpriseId) ?? { byCode: new Map<string, Sku>(), byId: new Map<string, Sku>() };
    skusByCore.set(input.coreEnterpriseId, lookup);
    const on = shanghaiDate(now);
    for (const line of input.lines) {
      const sku = cache.take<Sku>(`sku:${skuKey(input.coreEnterpriseId, line)}`, relied);
      if (!sku) return null;
      if (line.skuId) lookup.byId.set(line.skuId.toLowerCase(), sku);
      else lookup.byCode.set((line.skuCode ?? "").trim().toUpperCase(), sku);
      const key = priceKey(on, link, sku);
      const candidates = cache.take<Candidates>(key, relied);
      if (!candidates) return null;
      candidatesByKey.set(key, candidates);
    }
    if (input.paymentMethod === "on_account") {
      for (const code of creditLineCodes([link.id])) {
        const row = cache.take<AccountRow>(`credit:${code}`, relied);
        if (!row) return null;
        creditRows.set(code, row);
      }
    }
  }
  const dates = new Set(placements.map((p) => shanghaiDate(p.now)));
  const candidatesByDate = new Map<string, CandidatesFor>(
    [...dates].map((on) => [on, (link: LinkForPricing, sku: { id: string }) => candidatesByKey.get(priceKey(on, link, sku))!]),
  );
  const numbers = pool.splice(0, placements.length);
  return {
    links,
    thresholdRows,
    skusByCore,
    numbers,
    read: { candidatesByDate, creditLines: accountSnapshotFromRows([...creditRows.values()]) },
    relied,
    giveBack: () => pool.unshift(...numbers),
  };
}

/** Keep what a fresh read found, under the versions read with it, for the placements that follow. */
function keepReads(
  db: Db,
  versions: ReadonlyMap<string, number>,
  placements: readonly Placement[],
  linkOf: readonly (DealerLink | undefined)[],
  checked: readonly ({ sku: Sku; quantity: number }[] | undefined)[],
  thresholds: ReadonlyMap<string, Fen | null>,
  read: PricesAndCreditLines,
): void {
  const cache = referenceCache(db);
  placements.forEach(({ input, now }, i) => {
    const link = linkOf[i];
    const lines = checked[i];
    if (!link || !lines) return;
    const coreVersion = versions.get(link.coreEnterpriseId.toLowerCase());
    const dealerVersion = versions.get(link.dealerId.toLowerCase());
    if (coreVersion === undefined || dealerVersion === undefined) return;
    const core = [link.coreEnterpriseId.toLowerCase(), coreVersion] as const;
    const dealer = [link.dealerId.toLowerCase(), dealerVersion] as const;
    cache.keep(`link:${dealerLinkKey(input.coreEnterpriseId, input.dealerId)}`, link, [core, dealer]);
    cache.keep(`threshold:${input.dealerId.toLowerCase()}`, thresholds.get(input.dealerId) ?? null, [dealer]);
    const on = shanghaiDate(now);
    const candidatesFor = read.candidatesByDate.get(on);
    // checkLines resolved every line, in order, or the placement was refused.
    input.lines.forEach((line, k) => {
      const { sku } = lines[k];
      cache.keep(`sku:${skuKey(input.coreEnterpriseId, line)}`, sku, [core]);
      if (candidatesFor) cache.keep(priceKey(on, link, sku), candidatesFor(link, sku), [core]);
    });
  });
  if (read.creditLines) for (const row of read.creditLines.rowsById().values()) cache.keep(`credit:${row.code}`, row, []);
}

/** What a placement that passed its checks will be: its id, lines, total and status. */
interface PlannedOrder {
  id: string;
  total: Fen;
  link: DealerLink;
  lines: PricedLine[];
  event: OrderEvent | null;
  to: OrderStatus;
  thresholdFen: Fen | null;
}

/** The rows of accepted placements: orders (numbered by the statement), lines, timeline and audit. */
function placementRows(placements: readonly Placement[], accepted: readonly (readonly [number, PlannedOrder])[]) {
  const events: NewOrderEvent[] = [];
  const audits: Insertable<AuditEventsTable>[] = [];
  for (const [i, plan] of accepted) {
    const { actor, input } = placements[i];
    const initial = INITIAL_STATUS[input.kind];
    const onAccountNow = input.paymentMethod === "on_account";
    const data = {
      total_fen: plan.total,
      ...(plan.event === "submit_for_approval" ? { approval_threshold_fen: plan.thresholdFen } : {}),
      ...(onAccountNow ? { payment_method: "on_account", credit_held_fen: plan.total } : {}),
    };
    events.push({ order_id: plan.id, actor_user_id: actor.userId, actor_organization_id: actor.organizationId, event: "create", to_status: initial });
    const entries: AuditEntry[] = [{ action: "order.created", entityType: "order", entityId: plan.id, after: { kind: input.kind, total_fen: plan.total } }];
    if (plan.event) {
      events.push({
        order_id: plan.id,
        actor_user_id: actor.userId,
        actor_organization_id: actor.organizationId,
        event: plan.event,
        from_status: initial,
        to_status: plan.to,
        note: null,
        data: JSON.stringify(data),
      });
      entries.push({
        action: `order.${plan.event}`,
        entityType: "order",
        entityId: plan.id,
        organizationId: actor.organizationId,
        before: { status: initial },
        after: { status: plan.to, ...data },
      });
    }
    audits.push(...auditRows(actor, entries));
  }
  const lineRows = accepted.flatMap(([, plan]) => lineValues(plan.id, plan.lines));
  const orderRows = accepted.map(([i, plan]) => {
    const { actor, input, now } = placements[i];
    return {
      id: plan.id,
      number_prefix: orderNumberPrefix(input.kind, now),
      kind: input.kind,
      status: plan.to,
      core_enterprise_id: input.coreEnterpriseId,
      dealer_id: input.dealerId,
      dealer_link_id: plan.link.id,
      season_id: input.kind === "preorder" ? input.seasonId! : null,
      note: input.note,
      total_fen: plan.total,
      payment_method: input.paymentMethod === "on_account" ? "on_account" : null,
      created_by_user_id: actor.userId,
      submitted_at: plan.event ? now : null,
    };
  });
  return { events, audits, lineRows, orderRows };
}

/** The supplier hears of each order that reached it (not those waiting for the dealer's approver). */
function placementNoticeJobs(placements: readonly Placement[], accepted: readonly (readonly [number, PlannedOrder])[]): OutboxJob[] {
  return accepted.filter(([, plan]) => plan.to === "submitted").map(([i, plan]) => orderNoticeJob(plan.id, "order.submitted", plan.to, placements[i].actor));
}

const NUMBERED_ORDER_ARRAY_COLUMNS = [["number", "text"], ...ORDER_ARRAY_COLUMNS.filter(([column]) => column !== "number_prefix")] as const;

/**
 * Placements written by one statement, with no transaction around it (decision 016): the orders
 * with their lines, timeline and audit rows, the supplier notice jobs (decision 018), and the credit
 * holds, planned on the credit lines as read just before (or kept: then the statement also asserts
 * the versions they were kept at, decision 017). The statement fails whole (RT409) unless the
 * ledger's guarded UPDATE took every hold against the lines as they are when it runs (and the
 * versions held); then, or when a hold would be refused on the lines as read,
 * this returns null and nothing was written: the caller places the batch the locked way, which
 * decides each order on the locked lines. Deadlocks (two statements meeting on the same lines)
 * end the same way.
 */
async function placeInOneStatement(
  db: Db,
  placements: readonly Placement[],
  planned: ReadonlyMap<number, PlannedOrder>,
  creditLines: AccountSnapshot,
  numbers: readonly string[],
  relied: ReliedVersions | null,
): Promise<Map<number, OrderRow> | null> {
  const accepted = [...planned];
  const holdPlans = planCreditHoldsOn(creditLines, creditHoldRequests(placements, planned).requests);
  const holds = holdPlans.flatMap((plan) => (plan.ok ? [plan.hold] : []));
  // A refusal is decided on the locked lines, never on a read that may be stale.
  if (holds.length !== holdPlans.length || numbers.length < accepted.length) return null;
  let transfers: PreparedTransfers;
  try {
    transfers = prepareTransfers(holds, creditLines);
  } catch (error) {
    if (error instanceof DomainError) return null;
    throw error;
  }

  const { events, audits, lineRows, orderRows } = placementRows(placements, accepted);
  const numberOf = new Map(accepted.map(([, plan], k) => [plan.id, formatOrderNumber(orderRows[k].number_prefix, numbers[k])]));
  const notices = placementNoticeJobs(placements, accepted);
  const clauses = [
    sql`lines_written as (${insertFromArrays("order_lines", lineRows, LINE_ARRAY_COLUMNS)})`,
    sql`timeline as (${insertFromArrays("order_events", events, EVENT_ARRAY_COLUMNS)})`,
    sql`audit as (${insertFromArrays("audit_events", audits, AUDIT_ARRAY_COLUMNS)})`,
    sql`placed as (
      insert into orders (number, id, kind, status, core_enterprise_id, dealer_id, dealer_link_id, season_id, note, total_fen, payment_method,
                          created_by_user_id, submitted_at)
      ${selectFromArrays(
        orderRows.map((row) => ({ ...row, number: numberOf.get(row.id)! })),
        NUMBERED_ORDER_ARRAY_COLUMNS,
      )}
      returning ${sql.join(orderColumnsReturned.map((column) => (typeof column === "string" ? sql.ref(column) : column)))})`,
  ];
  const checks: RawBuilder<boolean>[] = [];
  if (notices.length) clauses.push(sql`notices_queued as (${enqueueClause(notices)})`);
  if (transfers.count) {
    clauses.push(transfers.clauses());
    checks.push(transfers.written());
  }
  if (relied) checks.push(versionsUnchanged(relied));
  const written = checks.length ? sql.join(checks, sql` and `) : sql`true`;
  // The order numbers the next batch will use, taken now rather than by a read of their own.
  const pool = orderNumberPool(db);
  const refill = Math.max(0, Math.min(accepted.length, PLACEMENT_GROUP_COMMIT.maxBatch - pool.length));
  try {
    const { rows } = await sql<OrderRow & { next_numbers: string[] | null }>`
      with ${sql.join(clauses)}
      select placed.*, (select array_agg(nextval('order_number_seq')::text) from generate_series(1, ${refill}::integer)) as next_numbers
        from placed
       where rongtong_assert(${written}, 'orders placed together: a credit line or what they were priced on changed before they were written')`.execute(db);
    pool.push(...(rows[0]?.next_numbers ?? []));
    const byId = new Map(rows.map(({ next_numbers: _, ...row }) => [row.id, row as OrderRow]));
    return new Map(accepted.map(([i, plan]) => [i, byId.get(plan.id)!]));
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === STATEMENT_ASSERTION_FAILED || code === "40P01") return null;
    throw error;
  }
}

/** The planned orders put on account, and the hold each asks of its credit line, in the same order. */
function creditHoldRequests(placements: readonly Placement[], planned: ReadonlyMap<number, PlannedOrder>) {
  const onAccount = [...planned].filter(([i]) => placements[i].input.paymentMethod === "on_account");
  const requests = onAccount.map(([i, plan]) => ({
    linkId: plan.link.id,
    amountFen: plan.total,
    idempotencyKey: creditHoldKey(plan.id),
    reference: `order:${plan.id}`,
    createdByUserId: placements[i].actor.userId,
  }));
  return { onAccount, requests };
}


function checkOpenSeason(seasons: ReadonlyMap<string, Selectable<SeasonsTable>>, coreEnterpriseId: string, seasonId: string | null) {
  if (!seasonId || !isUuid(seasonId)) throw new DomainError("validation", "Choose the season to book against", { season_id: "required" });
  const season = seasons.get(seasonId.toLowerCase());
  if (!season || season.core_enterprise_id !== coreEnterpriseId) throw new DomainError("not_found", "season not found", { season_id: "not found" });
  if (season.status !== "open") throw new DomainError("invalid_state", `Booking for ${season.name} is closed`, { season_id: "closed" });
  return season;
}
