import type { AppLoadContext } from "@remix-run/node";
import type { OrganizationKind, Role } from "../../db/schema";
import { MARKET_ORDER_STATUSES, type MarketOrderStatus } from "../../db/schema/market";
import { formatPercentBps } from "../i18n";
import { parseYuanToFen } from "../domain/catalog";
import { ESCROW_LIMITS, type DisputeView as ModelDisputeView, type EvidenceInput, type MarketOrderDetail, type MarketOrderSummary, type MarketPartyKind, type MarketViewer } from "../domain/market";
import { domainFailure } from "./supply-chain-access.server";
import { rolesFor, type ActionName } from "../domain/identity";
import { forbidden, notFound, requireMay, requireOrgContext, type OrgContext } from "./tenancy.server";

/**
 * Access rules of the escrow order pages (/market/orders…, /market/checkouts…, the operator's
 * /markets/:id/orders and disputes), in one place:
 *  - they exist for the three trading parties only: a `buyer`, a `merchant`, a `market_operator`;
 *    any other kind of organisation gets 404, like another tenant's id;
 *  - any member reads; acting needs a role that fits the side: a buyer's owner, admin or purchaser
 *    (finance may also pay a checkout), a merchant's or an operator's owner, admin or sales. A
 *    viewer reads only (403 on a change);
 *  - which order the viewer may see is the model's rule (escrow/queries.server.ts: not a party → not_found).
 */

// From the permission table (app/domain/identity/permissions.ts): acting on this side is what a member who
// may speak in a dispute may do (the trading roles of the side); paying is the checkout's `pay`.
const ACT_ROLES: Readonly<Record<MarketPartyKind, readonly Role[]>> = {
  buyer: rolesFor("dispute.statement", "buyer"),
  merchant: rolesFor("dispute.statement", "merchant"),
  market_operator: rolesFor("dispute.statement", "market_operator"),
};

/** Paying is the purchaser's or the finance team's work. */
const PAY_ROLES: readonly Role[] = rolesFor("market_order.pay", "buyer");

const PARTY_KINDS: readonly OrganizationKind[] = ["buyer", "merchant", "market_operator"];

function isPartyKind(kind: OrganizationKind): kind is MarketPartyKind {
  return PARTY_KINDS.includes(kind);
}

export interface MarketPartyContext extends OrgContext {
  organizationId: string;
  viewer: MarketViewer;
  /** The acting member may change things on this side (the page hides the forms otherwise). */
  canAct: boolean;
  /** The acting member may pay a checkout (buyers only). */
  canPay: boolean;
}

export async function requireMarketParty(
  request: Request,
  context: AppLoadContext,
  options: { kinds?: readonly MarketPartyKind[]; act?: boolean; pay?: boolean; may?: ActionName } = {},
): Promise<MarketPartyContext> {
  const ctx = await requireOrgContext(request, context);
  const kind = ctx.organization.kind;
  if (!isPartyKind(kind) || (options.kinds && !options.kinds.includes(kind))) notFound();
  const canAct = ctx.roles.some((role) => ACT_ROLES[kind].includes(role));
  const canPay = kind === "buyer" && ctx.roles.some((role) => PAY_ROLES.includes(role));
  if (options.act && !canAct) forbidden(ACT_ROLES[kind]);
  if (options.pay && !canPay) forbidden(PAY_ROLES);
  if (options.may) requireMay(ctx, options.may);
  const organizationId = ctx.organization.organizationId;
  return { ...ctx, organizationId, viewer: { organizationId, kind }, canAct, canPay };
}

// ---------------------------------------------------------------------------------------------
// Forms that may carry an evidence file (opening a dispute, adding a statement)

export const MARKET_FORM_LIMITS = {
  /**
   * The whole request: one evidence file and the text, with room over the file limit so a file a
   * little too large still reaches the handler and comes back as a field problem, not a bare 413.
   */
  requestBytesMax: 2 * ESCROW_LIMITS.evidenceBytes + 256 * 1024,
  textFieldCharsMax: 16 * 1024,
  partsMax: 20,
  urlencodedBytesMax: 64 * 1024,
} as const;

export interface MarketForm {
  form: FormData;
  evidence: EvidenceInput | null;
  /** A file refused while reading, reported next to the file field. */
  evidenceProblem: "larger than 2 MiB" | null;
}

/**
 * 413 for a body over the limit. A body up to `drainBytesMax` is read to its end and dropped
 * first: a client still sending when the answer comes would otherwise see the connection reset
 * instead of the 413 (and a browser, no page at all). Beyond that the connection is closed.
 */
const DRAIN_BYTES_MAX = 8 * 1024 * 1024;

function tooLarge(): Response {
  return new Response("The upload is too large", { status: 413, statusText: "Payload Too Large", headers: { Connection: "close" } });
}

async function refuseTooLarge(reader: ReadableStreamDefaultReader<Uint8Array> | null, seen: number): Promise<never> {
  let total = seen;
  while (reader && total <= DRAIN_BYTES_MAX) {
    const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
    if (done || !value) break;
    total += value.byteLength;
  }
  await reader?.cancel().catch(() => undefined);
  throw tooLarge();
}

/**
 * The posted form, urlencoded or multipart, read under the limits above: the body is read to at
 * most `requestBytesMax` (Content-Length first, then the running total: a body that lies is cut
 * off with a 413), so what is held in memory is bounded. The multipart body is then parsed by the
 * platform's own parser (undici's `formData()`), not Remix's `unstable_parseMultipartFormData`,
 * which refuses a file name with a ";" in it (`mismatched quotations`) — a 400 for a photo named
 * "发票;2024.png" that any browser sends as it is. The file of `evidence` is kept as bytes; what
 * it is gets decided by its first bytes in the model (escrow/disputes.server.ts), never its name or type.
 */
export async function readMarketForm(request: Request): Promise<MarketForm> {
  const declared = Number(request.headers.get("Content-Length") ?? "0");
  const contentType = request.headers.get("Content-Type") ?? "";
  if (!contentType.startsWith("multipart/form-data")) {
    if (declared > MARKET_FORM_LIMITS.urlencodedBytesMax) await refuseTooLarge(declared <= DRAIN_BYTES_MAX ? (request.body?.getReader() ?? null) : null, 0);
    const text = new TextDecoder().decode(await readCapped(request, MARKET_FORM_LIMITS.urlencodedBytesMax));
    const form = new FormData();
    for (const [name, value] of new URLSearchParams(text)) form.append(name, value);
    return { form, evidence: null, evidenceProblem: null };
  }
  if (declared > MARKET_FORM_LIMITS.requestBytesMax) await refuseTooLarge(declared <= DRAIN_BYTES_MAX ? (request.body?.getReader() ?? null) : null, 0);
  const body = await readCapped(request, MARKET_FORM_LIMITS.requestBytesMax);

  let parsed: FormData;
  try {
    parsed = await new Request("http://form.invalid/", { method: "POST", headers: { "Content-Type": contentType }, body }).formData();
  } catch {
    // A body that is not the multipart it claims: the client's fault, never a 500.
    throw new Response("The form could not be read", { status: 400, statusText: "Bad Request" });
  }
  const form = new FormData();
  let evidence: EvidenceInput | null = null;
  let evidenceProblem: MarketForm["evidenceProblem"] = null;
  let parts = 0;
  for (const [name, value] of parsed) {
    parts += 1;
    if (parts > MARKET_FORM_LIMITS.partsMax) throw tooLarge();
    if (typeof value === "string") {
      form.append(name, value.slice(0, MARKET_FORM_LIMITS.textFieldCharsMax));
      continue;
    }
    // No file chosen: browsers still send an empty part with an empty name. One evidence file only.
    if (name !== "evidence" || value.size === 0 || evidence || evidenceProblem) continue;
    if (value.size > ESCROW_LIMITS.evidenceBytes) {
      evidenceProblem = "larger than 2 MiB";
      continue;
    }
    evidence = { filename: value.name || "evidence", contentType: value.type, bytes: new Uint8Array(await value.arrayBuffer()) };
  }
  return { form, evidence, evidenceProblem };
}

function concat(chunks: Uint8Array[], length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

async function readCapped(request: Request, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) await refuseTooLarge(reader, total);
    chunks.push(value);
  }
  return concat(chunks, total);
}

/** `?status=` of an order list: empty for all, one of the order's statuses, else a 400 naming it. */
export function parseStatusParam(raw: string | null): MarketOrderStatus | null {
  if (!raw) return null;
  if (!(MARKET_ORDER_STATUSES as readonly string[]).includes(raw)) {
    throw new Response("Bad status: not an order status", { status: 400, statusText: "Bad Request" });
  }
  return raw as MarketOrderStatus;
}

/** A text field of a posted form ('' when absent or a file), cut to a sane size for echoing back. */
export function formText(form: FormData, name: string, max = 4000): string {
  const value = form.get(name);
  return typeof value === "string" ? value.slice(0, max) : "";
}

// ---------------------------------------------------------------------------------------------
// Money typed in yuan, and downloads

/**
 * Yuan as typed ("12.5", "1,299.50", "¥8") → integer fen, exactly (string arithmetic, no float);
 * null for anything else, including 3 decimals (refused, never rounded).
 */
export function yuanToFen(raw: string): number | null {
  if (raw.trim() === "") return null;
  return parseYuanToFen(raw);
}

/**
 * `Content-Disposition: attachment` for a stored file name, safe in a header whatever the name
 * holds: an ASCII fallback with quotes, backslashes and non-ASCII replaced, and the real name
 * percent-encoded as RFC 5987 `filename*` (Chinese names arrive intact in every current browser).
 */
export function attachmentDisposition(filename: string): string {
  const clean = [...filename].filter((c) => c.charCodeAt(0) > 0x1f && c.charCodeAt(0) !== 0x7f).join("") || "evidence";
  const ascii = clean.replace(/[^\x20-\x7e]|["\\%;]/g, "_");
  const encoded = encodeURIComponent(clean).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

// ---------------------------------------------------------------------------------------------
// What the pages are sent: plain data, timestamps as ISO strings, nothing the viewer may not see.

const iso = (value: Date | null | undefined): string | null => (value ? value.toISOString() : null);

export function orderRowView(o: MarketOrderSummary, side: MarketPartyKind) {
  return {
    id: o.id,
    orderNo: o.orderNo,
    checkoutId: o.checkoutId,
    marketName: o.marketName,
    buyerName: o.buyerName,
    merchantName: o.merchantName,
    status: o.status,
    goodsTotalFen: o.goodsTotalFen,
    // The commission is between the merchant and the market: a buyer is not shown it.
    feeFen: side === "buyer" ? 0 : o.feeFen,
    placedAt: o.placedAt.toISOString(),
  };
}

/** Who fired each event, as a side of the order (the operator is whoever else acted). */
export function timelineView(detail: Pick<MarketOrderDetail, "events" | "buyerId" | "merchantId">) {
  return detail.events.map((e) => ({
    id: e.id,
    event: e.event,
    from: e.fromStatus,
    to: e.toStatus,
    actor:
      e.actorOrganizationId === null
        ? ("system" as const)
        : e.actorOrganizationId === detail.buyerId
          ? ("buyer" as const)
          : e.actorOrganizationId === detail.merchantId
            ? ("merchant" as const)
            : ("operator" as const),
    note: e.note,
    at: e.at.toISOString(),
  }));
}

export function disputeView(d: ModelDisputeView) {
  return {
    id: d.id,
    status: d.status,
    openedFromStatus: d.openedFromStatus,
    ruling: d.ruling,
    refundFen: d.refundFen,
    rulingReason: d.rulingReason,
    ruledAt: iso(d.ruledAt),
    openedAt: d.openedAt.toISOString(),
    statements: d.statements.map((s) => ({ id: s.id, party: s.party, body: s.body, evidence: s.evidence, createdAt: s.createdAt.toISOString() })),
  };
}

/** The order as its page shows it to this viewer (the commission only to merchant and operator). */
export function orderDetailView(d: MarketOrderDetail) {
  const seesFee = d.role !== "buyer";
  return {
    id: d.id,
    orderNo: d.orderNo,
    marketId: d.marketId,
    marketName: d.marketName,
    checkoutId: d.checkoutId,
    buyerName: d.buyerName,
    merchantName: d.merchantName,
    status: d.status,
    role: d.role,
    actions: d.actions,
    held: d.held,
    goodsTotalFen: d.goodsTotalFen,
    feeFen: seesFee ? d.feeFen : null,
    refundedFen: d.refundedFen,
    settledNetFen: d.settledNetFen,
    settledFeeFen: seesFee ? d.settledFeeFen : null,
    carrier: d.carrier,
    trackingNo: d.trackingNo,
    placedAt: d.placedAt.toISOString(),
    paidAt: iso(d.paidAt),
    shippedAt: iso(d.shippedAt),
    autoConfirmAt: iso(d.autoConfirmAt),
    receivedAt: iso(d.receivedAt),
    settledAt: iso(d.settledAt),
    closedAt: iso(d.closedAt),
    lines: d.lines.map((l) => ({
      lineNo: l.lineNo,
      title: l.title,
      category: l.category,
      spec: l.spec,
      unit: l.unit,
      unitPriceFen: l.unitPriceFen,
      quantity: l.quantity,
      amountFen: l.amountFen,
      // "2.5" for 250 bps: worked out here, the formatter is server-side.
      commissionRateText: seesFee ? formatPercentBps(l.commissionRateBps) : null,
      minFeeFen: seesFee ? l.minFeeFen : null,
    })),
    events: timelineView(d),
    dispute: d.dispute ? disputeView(d.dispute) : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Refusals as form failures

export interface MarketFormFailureData {
  intent: string;
  fieldErrors: Record<string, string>;
  formError: string | null;
  values: Record<string, string>;
}

/**
 * A model's refusal as the failure of form `intent`: its fields renamed to the form's inputs
 * (`rename`, e.g. the dispute's `body` is the form's `statement`), its status kept (422, 409…).
 * `not_found` stays a 404 and `forbidden` a 403; anything that is not a DomainError is a bug.
 */
export function marketFormFailure(
  error: unknown,
  intent: string,
  values: Record<string, string>,
  rename: Record<string, string> = {},
): { failure: MarketFormFailureData; status: number } {
  const { failure, status } = domainFailure(error, intent, values);
  const fieldErrors: Record<string, string> = {};
  for (const [field, problem] of Object.entries(failure.fieldErrors)) fieldErrors[rename[field] ?? field] = problem;
  return { failure: { ...failure, fieldErrors }, status };
}
