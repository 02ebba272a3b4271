import { randomUUID } from "node:crypto";
import { type Insertable, type Selectable, sql } from "kysely";
import { type Db, inTransaction } from "../../../db";
import { type ArrayColumns, insertFromArrays } from "../../../db/unnest";
import type { OrderLinesTable, SeasonsTable } from "../../../db/schema";
import { type Actor, type AuditEntry, auditClause, DomainError, isUuid, shanghaiDate } from "../shared";
import { getSkusByCodes, getSkusByIds, orderQuantityProblem, type Sku, SKU_LIMITS } from "../catalog";
import { planCreditHolds } from "../credit";
import { type DealerLink, findActiveDealerLink } from "../dealers";
import { applyBatch, type Fen } from "../ledger";
import { enqueueAll, type Trx } from "../outbox";
import { findTransition, INITIAL_STATUS, type OrderEvent, type OrderKind, type OrderStatus } from "./states";
import { type CandidatesFor, loadCandidatesForLinks, resolvePrice } from "../pricing";
import { ORDER_LIMITS, type OrderRow } from "./orders.server";
import { creditHoldKey, type NewOrderEvent, orderColumnsReturned, orderNumber } from "./internal.server";
import { orderNoticeJob } from "./notices.server";

/** Placing an order in one step (quick order, CSV, API). */

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

/** A core enterprise's SKUs named by an order's lines, by code and by id. */
interface SkuLookup {
  byCode: Map<string, Sku>;
  byId: Map<string, Sku>;
}

/** One query for the codes and one for the ids, in chunks the catalogue allows. */
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
 * Placed in the caller's transaction when given one (every page and the API give theirs), else in
 * a transaction of its own. One path (decisions 015–017, superseded by issue 13): the credit line
 * locked, one INSERT for the order with its lines, timeline and audit rows, the notice job, the hold.
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
  return inTransaction(db, (trx) => placeOrder(trx, actor, { ...input, note }, now));
}

type Placing = CreateOrderInput & { note: string };

/**
 * The checks in the order a caller hears of them (relationship, season, lines, prices, credit), then
 * the writes: nothing of a refused order is written.
 */
async function placeOrder(trx: Db, actor: Actor, input: Placing, now: Date): Promise<OrderRow> {
  const link = await findActiveDealerLink(trx, input.coreEnterpriseId, input.dealerId);
  if (!link) {
    throw new DomainError("not_found", "This supplier is not open to you: the dealer relationship is missing or suspended", {
      core_enterprise_id: "no active dealer relationship",
    });
  }
  if (input.kind === "preorder") await checkOpenSeason(trx, input.coreEnterpriseId, input.seasonId ?? null);
  else if (input.seasonId) throw new DomainError("validation", "Only a preorder books against a season", { season_id: "preorder only" });
  const lines = await priceLines(trx, link, input.lines, now);
  const total = linesTotal(lines);
  const thresholdFen = input.submit === false ? null : await approvalThresholdFen(trx, input.dealerId);
  const event: OrderEvent | null = input.submit === false ? null : thresholdFen !== null && total > thresholdFen ? "submit_for_approval" : "submit";
  const to = event ? findTransition(input.kind, INITIAL_STATUS[input.kind], event)!.to : INITIAL_STATUS[input.kind];
  const plan: PlannedOrder = { id: randomUUID(), total, link, lines, event, to, thresholdFen };

  // Credit: the dealer's line locked, the order checked against it before anything is written.
  const credit = input.paymentMethod === "on_account" ? await holdOnCreditLine(trx, actor, plan) : null;

  const { events, audits, lineRows, orderRow } = placementRows(actor, input, now, plan);
  // One statement: the order, and in data-modifying WITH clauses its lines, timeline and audit rows
  // (the foreign keys are checked at the end of the statement, when all are in). One array per
  // column: the same statement text and parameter count whatever the number of lines.
  const { rows } = await sql<OrderRow>`
    with lines_written as (${insertFromArrays("order_lines", lineRows, LINE_ARRAY_COLUMNS)}),
         timeline as (${insertFromArrays("order_events", events, EVENT_ARRAY_COLUMNS)}),
         audit as (${auditClause(actor, audits)})
    insert into orders (id, number, kind, status, core_enterprise_id, dealer_id, dealer_link_id, season_id, note, total_fen, payment_method,
                        created_by_user_id, submitted_at)
    values (${orderRow.id}, ${orderNumber(input.kind, now)}, ${orderRow.kind}, ${orderRow.status}, ${orderRow.core_enterprise_id}, ${orderRow.dealer_id},
            ${orderRow.dealer_link_id}, ${orderRow.season_id}, ${orderRow.note}, ${orderRow.total_fen}, ${orderRow.payment_method},
            ${orderRow.created_by_user_id}, ${orderRow.submitted_at})
    returning ${sql.join(orderColumnsReturned.map((column) => (typeof column === "string" ? sql.ref(column) : column)))}`.execute(trx);
  // The supplier hears of an order that reached it (not one waiting for the dealer's approver).
  if (plan.to === "submitted") await enqueueAll(trx as Trx, [orderNoticeJob(plan.id, "order.submitted", plan.to, actor)]);
  if (credit) await applyBatch(trx, [credit.hold], { locked: credit.locked });
  return rows[0];
}

/** The hold of an order on account, planned on its locked credit line; refused when the line cannot take it. */
async function holdOnCreditLine(trx: Db, actor: Actor, plan: PlannedOrder) {
  const request = { linkId: plan.link.id, amountFen: plan.total, idempotencyKey: creditHoldKey(plan.id), reference: `order:${plan.id}`, createdByUserId: actor.userId };
  const { locked, plans } = await planCreditHolds(trx, [request]);
  const [planned] = plans;
  if (!planned.ok) throw planned.error;
  return { locked, hold: planned.hold };
}

/** The dealer's approval threshold (an order above it waits for the dealer's approver); null when none is set. */
async function approvalThresholdFen(db: Db, dealerId: string): Promise<Fen | null> {
  const row = await db.selectFrom("order_settings").select("approval_threshold_fen").where("organization_id", "=", dealerId).executeTakeFirst();
  return row?.approval_threshold_fen ?? null;
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

/** The rows of a placed order: the order (numbered by the statement), its lines, timeline and audit. */
function placementRows(actor: Actor, input: Placing, now: Date, plan: PlannedOrder) {
  const initial = INITIAL_STATUS[input.kind];
  const onAccountNow = input.paymentMethod === "on_account";
  const data = {
    total_fen: plan.total,
    ...(plan.event === "submit_for_approval" ? { approval_threshold_fen: plan.thresholdFen } : {}),
    ...(onAccountNow ? { payment_method: "on_account", credit_held_fen: plan.total } : {}),
  };
  const events: NewOrderEvent[] = [{ order_id: plan.id, actor_user_id: actor.userId, actor_organization_id: actor.organizationId, event: "create", to_status: initial }];
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
  const orderRow = {
    id: plan.id,
    kind: input.kind,
    status: plan.to,
    core_enterprise_id: input.coreEnterpriseId,
    dealer_id: input.dealerId,
    dealer_link_id: plan.link.id,
    season_id: input.kind === "preorder" ? input.seasonId! : null,
    note: input.note,
    total_fen: plan.total,
    payment_method: onAccountNow ? "on_account" : null,
    created_by_user_id: actor.userId,
    submitted_at: plan.event ? now : null,
  };
  return { events, audits: entries, lineRows: lineValues(plan.id, plan.lines), orderRow };
}

async function checkOpenSeason(db: Db, coreEnterpriseId: string, seasonId: string | null): Promise<Selectable<SeasonsTable>> {
  if (!seasonId || !isUuid(seasonId)) throw new DomainError("validation", "Choose the season to book against", { season_id: "required" });
  const season = await db.selectFrom("seasons").selectAll().where("id", "=", seasonId).executeTakeFirst();
  if (!season || season.core_enterprise_id !== coreEnterpriseId) throw new DomainError("not_found", "season not found", { season_id: "not found" });
  if (season.status !== "open") throw new DomainError("invalid_state", `Booking for ${season.name} is closed`, { season_id: "closed" });
  return season;
}
