import { data, redirect, type ActionFunctionArgs, type LinksFunction, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import type { ReactNode } from "react";
import { z } from "zod";
import { CsrfInput } from "~/components/csrf-input";
import { ActionError, OrderKindTag, OrderStatusTag, PaymentChoice, paymentChoiceField, PaymentInFlight, PaymentLastFailed, useOrderNote, useOrderProblem, type OrderFormFailure } from "~/components/order-ui";
import { RouteError } from "~/components/route-error";
import { RuleTag, TextField } from "~/components/supply-ui";
import { formatDateTime, formatFen, isMessageKey, translate, translateDynamic, type MessageKey, formatPercentBps, formatDate } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { resolveLocale } from "~/i18n/locale.server";
import { parseWholeNumber } from "~/domain/catalog";
import { creditSummary } from "~/domain/credit";
import { EpayGatewayError, paymentsDepsForRequest, settlePaymentAttempts, startPaymentAttempt } from "~/domain/payments";
import { isDomainError } from "~/domain/shared";
import { listAccountsForOrganization } from "~/domain/ledger";
import { applicationForOrder, repayOnAccountWithAssignment } from "~/domain/financing";
import { cancelOrder, approveOrder, isOwnApprovalRequest, submitOrder, receiveOrder, shipOrder, amountDue, orderPaymentReference, markAwaitingEpay, payFromWallet, payOnAccount, getOrder, type OrderDetail, decideReturn, receiveReturnedGoods, refundReturn, confirmOrder, rejectOrder, listSeasons } from "~/domain/orders";
import { domainFailure, formValues } from "~/web/supply-chain-access.server";
import { may, type ActionName } from "~/domain/identity";
import { notFound, requireMay, requireOrgContext, requireUuidParam, scoped } from "~/web/tenancy.server";
import { flashCookie, getSession, requireCsrf } from "~/session.server";
import ordersStyles from "~/styles/orders.css";
import supplyStyles from "~/styles/supply.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: supplyStyles },
  { rel: "stylesheet", href: ordersStyles },
];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "orders.detailTitle");

const EPAY_TIMEOUT_MS = 5_000;
/** Asking the gateway about a pending payment while the page loads: short, the callback covers the rest. */
const EPAY_STATUS_TIMEOUT_MS = 2_000;

/** Dealers and core enterprises have orders; for any other kind of organisation the page does not exist. */
async function requireOrderParty(request: Request, context: LoaderFunctionArgs["context"]) {
  const ctx = await requireOrgContext(request, context);
  if (ctx.organization.kind !== "dealer" && ctx.organization.kind !== "core_enterprise") notFound();
  return { ...ctx, organizationId: ctx.organization.organizationId };
}

const iso = (value: Date | string | null | undefined) => (value ? new Date(value).toISOString() : null);

export async function loader({ request, params, context }: LoaderFunctionArgs) {
  const { organizationId, roles, organization, user } = await requireOrderParty(request, context);
  const orderId = requireUuidParam(params.orderId);
  // Scoped to the two parties: any other organisation's order id is a 404, like an unknown one.
  let detail = await scoped(() => getOrder(context.db, organizationId, orderId));
  const dueBefore = amountDue(detail.order);
  // An e-Pay attempt at what is due, as the dealer sees it: in flight (asked of the gateway, since the
  // callback may be late), or failed last. While one is in flight the page offers no way to pay.
  const attempts =
    detail.party === "dealer" && dueBefore
      ? await settlePaymentAttempts(
          context.db,
          detail.order.dealer_id,
          orderPaymentReference(detail.order.id, dueBefore.part),
          paymentsDepsForRequest(request, context.config, context.logger, { timeoutMs: EPAY_STATUS_TIMEOUT_MS, maxAttempts: 1 }),
        )
      : null;
  // The gateway's answer may have just paid the order (the capture applies it at once): read it again.
  if (attempts?.changed) detail = await scoped(() => getOrder(context.db, organizationId, orderId));
  const { order } = detail;
  const original = order.original_order_id ? await scoped(() => getOrder(context.db, organizationId, order.original_order_id!)) : null;
  const season = order.season_id ? (await listSeasons(context.db, order.core_enterprise_id)).find((s) => s.id === order.season_id) : undefined;
  const returnable = detail.lines.some((l) => l.quantity_shipped - l.quantity_returned > 0);
  const due = amountDue(order);
  // What the dealer can pay with, shown next to the payment buttons: its wallet and its credit here.
  const funds =
    detail.party === "dealer" && due
      ? {
          walletFen: (await listAccountsForOrganization(context.db, order.dealer_id)).find((a) => a.kind === "wallet")?.availableFen ?? 0,
          creditAvailableFen: (await creditSummary(context.db, order.dealer_link_id)).availableFen,
        }
      : null;
  // A draft the dealer may submit on account: the credit line it would be held on.
  const canSubmit = detail.party === "dealer" && detail.actions.some((a) => a === "submit" || a === "submit_for_approval");
  const submitCredit =
    canSubmit && order.kind !== "preorder"
      ? await creditSummary(context.db, order.dealer_link_id).then((c) => ({ availableFen: c.availableFen, limitFen: c.limitFen }))
      : null;
  // The bank's answer to a financing request, for both parties (the bank's page has the details).
  const financing =
    order.payment_method === "financing" || order.status === "awaiting_financing"
      ? await applicationForOrder(context.db, detail.party === "dealer" ? { kind: "borrower", organizationId } : { kind: "guarantor", organizationId }, order.id)
      : null;
  return {
    financing: financing ? { id: financing.id, number: financing.number, status: financing.status, loanId: financing.loanId } : null,
    order: {
      id: order.id,
      number: order.number,
      kind: order.kind,
      status: order.status,
      paymentMethod: order.payment_method,
      totalFen: order.total_fen,
      depositFen: order.deposit_fen,
      paidFen: order.paid_fen,
      dueOn: order.due_on,
      note: order.note,
      reason: order.reason,
      createdAt: iso(order.created_at)!,
      submittedAt: iso(order.submitted_at),
      confirmedAt: iso(order.confirmed_at),
      paidAt: iso(order.paid_at),
      shippedAt: iso(order.shipped_at),
      receivedAt: iso(order.received_at),
      closedAt: iso(order.closed_at),
    },
    party: detail.party,
    dealerName: detail.dealerName,
    coreEnterpriseName: detail.coreEnterpriseName,
    seasonName: season?.name ?? null,
    original: original ? { id: original.order.id, number: original.order.number } : null,
    // A return's lines say what is sent back (its quantity_ordered) and, once the supplier took the
    // goods back (`goods_back`, all lines at once), that it came back; shipped/returned are the
    // original order's columns and stay 0 on the return itself.
    lines: detail.lines.map((l) => ({
      returnRequested: order.kind === "return" ? l.quantity_ordered : null,
      returnedBack: order.kind === "return" ? (detail.events.some((e) => e.event === "goods_back") ? l.quantity_ordered : 0) : null,
      id: l.id,
      lineNo: l.line_no,
      skuCode: l.sku_code,
      skuName: l.sku_name,
      spec: l.spec,
      unit: l.unit,
      ordered: l.quantity_ordered,
      confirmed: l.quantity_confirmed,
      shipped: l.quantity_shipped,
      returned: l.quantity_returned,
      unitPriceFen: l.unit_price_fen,
      amountFen: l.amount_fen,
      rule: l.price_rule,
      taxRate: formatPercentBps(l.tax_rate_bps),
      adjustReason: l.adjust_reason,
    })),
    shipments: detail.shipments.map((s) => ({
      id: s.id,
      carrier: s.carrier,
      trackingNumber: s.trackingNumber,
      shippedAt: iso(s.shippedAt)!,
      lines: s.lines.map((sl) => ({ code: detail.lines.find((l) => l.id === sl.orderLineId)?.sku_code ?? "", quantity: sl.quantity })),
    })),
    events: detail.events.map((e) => ({
      id: e.id,
      at: iso(e.at)!,
      event: e.event,
      from: e.fromStatus,
      to: e.toStatus,
      note: e.note,
      actor: e.actorName,
      creditHeldFen: e.creditHeldFen,
      creditReleasedFen: e.creditReleasedFen,
    })),
    returns: detail.returns,
    // Only what this member's roles may do (the permission table); approving is gated by `canApprove`
    // so that a member who may not approve still reads that the order waits for an approver.
    actions: detail.actions.filter((e) => e === "approve" || e === "decline_approval" || may(roles, `order.${e}`, organization.kind)),
    canRepay: may(roles, "order.repay", organization.kind),
    outstandingFen: detail.onAccountOutstandingFen,
    due,
    funds,
    payment: {
      inFlight: attempts?.inFlight
        ? {
            id: attempts.inFlight.id,
            status: attempts.inFlight.status,
            amountFen: attempts.inFlight.amountFen,
            createdAt: attempts.inFlight.createdAt.toISOString(),
            payUrl: attempts.inFlight.payUrl,
          }
        : null,
      lastFailedAt: attempts?.lastFailed?.failedAt ? attempts.lastFailed.failedAt.toISOString() : null,
    },
    submitCredit,
    // Submitted on account, neither confirmed (then charged) nor closed (then released): the total
    // is held on the dealer's credit line.
    creditHeld: order.payment_method === "on_account" && order.submitted_at !== null && order.confirmed_at === null && order.closed_at === null,
    canApprove: may(roles, "order.approve", organization.kind),
    // Four eyes: the member who submitted it for approval may decline it, not approve it.
    ownApprovalRequest: await isOwnApprovalRequest(context.db, order, user.id),
    // Placing it again opens the quick order form: only for those who may create orders.
    canCreate: may(roles, "order.create", organization.kind),
    canReturn: may(roles, "order.request_return", organization.kind) && detail.party === "dealer" && order.kind !== "return" && ["received", "completed"].includes(order.status) && returnable,
  };
}

// ---------------------------------------------------------------------------------------------
// Forms. Messages are catalogue keys, translated when shown.

const reasonField = z
  .string({ required_error: "field.required", invalid_type_error: "field.required" })
  .trim()
  .min(1, "field.required")
  .max(500, "field.tooLong");
const ReasonForm = z.object({ reason: reasonField });
/** How a submitted draft is paid: after the supplier confirms (the default), or held on the credit line now. */
const PaymentChoiceForm = z.object({
  payment_method: paymentChoiceField,
});
const ShipSchema = z.object({
  carrier: z.string({ required_error: "field.required" }).trim().min(1, "field.required").max(50, "field.tooLong"),
  tracking_number: z.string({ required_error: "field.required" }).trim().min(1, "field.required").max(50, "field.tooLong"),
});

const INTENTS = [
  "submit",
  "approve",
  "decline",
  "pay_wallet",
  "epay",
  "pay_on_account",
  "financing",
  "repay",
  "receive",
  "cancel",
  "confirm",
  "reject",
  "ship",
  "approve_return",
  "goods_back",
  "refund",
] as const;
type Intent = (typeof INTENTS)[number];

/** Each form of the page → the action it performs in the permission table (app/domain/identity/permissions.ts). */
const INTENT_ACTION: Readonly<Record<Intent, ActionName>> = {
  submit: "order.submit",
  approve: "order.approve",
  decline: "order.decline_approval",
  pay_wallet: "order.pay",
  epay: "order.pay",
  pay_on_account: "order.pay_on_account",
  financing: "order.request_financing",
  repay: "order.repay",
  receive: "order.receive",
  cancel: "order.cancel",
  confirm: "order.confirm",
  reject: "order.reject",
  ship: "order.ship_all",
  approve_return: "order.approve_return",
  goods_back: "order.goods_back",
  refund: "order.refund",
};

function isIntent(value: string): value is Intent {
  return (INTENTS as readonly string[]).includes(value);
}

function zodErrors(error: z.ZodError): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) {
    const field = issue.path.join(".");
    fields[field] ??= issue.message;
  }
  return fields;
}

type Lines = OrderDetail["lines"];

/**
 * Per-line quantities typed in a table (`<prefix>.<lineId>`): whole numbers, each problem named by
 * its input. A blank is either missing (confirming: say how many) or zero (shipping: not now).
 */
function readLineQuantities(form: FormData, lines: Lines, prefix: string, blank: "required" | "zero") {
  const quantities = new Map<string, number>();
  const fieldErrors: Record<string, string> = {};
  for (const line of lines) {
    const raw = form.get(`${prefix}.${line.id}`);
    const text = typeof raw === "string" ? raw.trim() : "";
    if (text === "") {
      if (blank === "zero") quantities.set(line.id, 0);
      else fieldErrors[`${prefix}.${line.id}`] = "field.required";
      continue;
    }
    const n = parseWholeNumber(text);
    if (n === null || n > 1_000_000_000) fieldErrors[`${prefix}.${line.id}`] = "orders.problem.wholeNumber";
    else quantities.set(line.id, n);
  }
  return { quantities, fieldErrors };
}

/** A model's `lines.<i>.<field>` (i counting the lines it was given) → the input of that line. */
function mapLineFields(fields: Record<string, string>, lineIds: readonly string[], names: Record<string, string>): Record<string, string> {
  const mapped: Record<string, string> = {};
  for (const [key, value] of Object.entries(fields)) {
    const match = /^lines\.(\d+)\.(\w+)$/.exec(key);
    const lineId = match ? lineIds[Number(match[1])] : undefined;
    const prefix = match ? names[match[2]] : undefined;
    if (lineId && prefix) mapped[`${prefix}.${lineId}`] = value;
    else mapped[key] = value;
  }
  return mapped;
}

const FLASH: Partial<Record<Intent, MessageKey>> = {
  approve: "orders.flash.approved",
  decline: "orders.flash.declined",
  pay_wallet: "orders.flash.paid",
  pay_on_account: "orders.flash.onAccount",
  financing: "orders.flash.financing",
  repay: "orders.flash.repaid",
  receive: "orders.flash.received",
  cancel: "orders.flash.cancelled",
  confirm: "orders.flash.confirmed",
  reject: "orders.flash.rejected",
  ship: "orders.flash.shipped",
  approve_return: "orders.flash.returnApproved",
  goods_back: "orders.flash.goodsBack",
  refund: "orders.flash.refunded",
};

export async function action({ request, params, context }: ActionFunctionArgs) {
  const form = await request.formData();
  await requireCsrf(request, context, form);
  const party = await requireOrderParty(request, context);
  const { organizationId, actor, roles } = party;
  const orderId = requireUuidParam(params.orderId);
  const { db } = context;
  // Who may see the order first: another organisation's id is a 404 for every intent.
  const detail = await scoped(() => getOrder(db, organizationId, orderId));
  const { order } = detail;
  const here = `/orders/${order.id}`;
  const rawIntent = String(form.get("intent") ?? "");
  if (!isIntent(rawIntent)) throw new Response("Unknown form", { status: 400 });
  const intent: Intent = rawIntent;
  // Then who may do it: the permission table, beside the order machine (403 naming the roles).
  requireMay(party, INTENT_ACTION[intent]);
  const lineFieldNames = detail.lines.flatMap((l) => [`quantity.${l.id}`, `reason.${l.id}`, `ship.${l.id}`]);
  const values = formValues(form, ["reason", "carrier", "tracking_number", "payment_method", ...lineFieldNames]);
  const fail = (fieldErrors: Record<string, string>, formError: string | null = null, status = 422) =>
    data<OrderFormFailure>({ intent, fieldErrors, formError, values }, { status });

  const done = async (key: MessageKey, target = here) =>
    redirect(target, { headers: { "Set-Cookie": await flashCookie(context, { key, params: { number: order.number } }) } });

  try {
    switch (intent) {
      case "submit": {
        const choice = PaymentChoiceForm.safeParse(values);
        if (!choice.success) return fail(zodErrors(choice.error));
        const onAccount = choice.data.payment_method === "on_account";
        const submitted = await submitOrder(db, actor, order.id, new Date(), { paymentMethod: onAccount ? "on_account" : null });
        const pending = submitted.status === "pending_approval";
        if (onAccount) return done(pending ? "orders.flash.sentForApprovalOnAccount" : "orders.flash.submittedOnAccount");
        return done(pending ? "orders.flash.sentForApproval" : "orders.flash.submitted");
      }
      case "approve":
        try {
          await approveOrder(db, actor, roles, order.id, "approve", new Date());
        } catch (error) {
          // Four eyes: say why on the page, not the generic refusal (order-states.ts APPROVAL_BY_ANOTHER_MEMBER).
          if (isDomainError(error) && error.fields.approver === "not_the_submitter") return fail({ approver: "orders.problem.ownApproval" }, null, 403);
          throw error;
        }
        break;
      case "decline": {
        const parsed = ReasonForm.safeParse(values);
        if (!parsed.success) return fail(zodErrors(parsed.error));
        await approveOrder(db, actor, roles, order.id, "decline", new Date(), parsed.data.reason);
        break;
      }
      case "pay_wallet":
        await payFromWallet(db, actor, order.id, new Date());
        break;
      case "epay": {
        const due = amountDue(order);
        if (!due || due.amountFen <= 0) return fail({ status: order.status }, null, 409);
        const session = await getSession(request, context);
        const locale = await resolveLocale(request, session?.user.locale);
        const reference = orderPaymentReference(order.id, due.part);
        let started;
        try {
          // Over HTTP to the gateway, outside any transaction: resumes the attempt pending for this
          // part, or starts a new one after a failure; refused (409) once the part is paid.
          started = await startPaymentAttempt(
            db,
            actor,
            {
              payerOrganizationId: order.dealer_id,
              payeeOrganizationId: order.core_enterprise_id,
              purpose: "order",
              reference,
              amountFen: due.amountFen,
              description: translate(locale, "orders.epay.description", {
                number: order.number,
                part: translate(locale, `orders.part.${due.part}`),
                supplier: detail.coreEnterpriseName,
              }).slice(0, 200),
              returnPath: here,
            },
            // A person is waiting on the answer: a shorter budget than a background step's.
            paymentsDepsForRequest(request, context.config, context.logger, { timeoutMs: EPAY_TIMEOUT_MS, maxAttempts: 2 }),
          );
        } catch (error) {
          if (error instanceof EpayGatewayError) {
            context.logger.warn({ orderId: order.id, err: error }, "e-Pay payment could not be started");
            return fail({}, "orders.problem.epayUnavailable", 503);
          }
          throw error;
        }
        await markAwaitingEpay(db, actor, order.id, started.payment.id);
        return redirect(started.payUrl);
      }
      case "pay_on_account":
        await payOnAccount(db, actor, order.id, new Date());
        break;
      case "financing":
        // Financing is asked for on its own page, which shows the rate and schedule first.
        return redirect(`/financing/apply/${order.id}`);
      case "repay":
        // A sold receivable: the dealer's payment goes to the bank first (financing), in the same transaction.
        await repayOnAccountWithAssignment(db, actor, order.id, new Date());
        break;
      case "receive":
        await receiveOrder(db, actor, order.id, new Date());
        break;
      case "cancel": {
        const parsed = ReasonForm.safeParse(values);
        if (!parsed.success) return fail(zodErrors(parsed.error));
        if (order.kind === "return") await decideReturn(db, actor, order.id, "cancel", new Date(), parsed.data.reason);
        else await cancelOrder(db, actor, order.id, parsed.data.reason, new Date());
        break;
      }
      case "reject": {
        const parsed = ReasonForm.safeParse(values);
        if (!parsed.success) return fail(zodErrors(parsed.error));
        if (order.kind === "return") await decideReturn(db, actor, order.id, "reject", new Date(), parsed.data.reason);
        else await rejectOrder(db, actor, order.id, parsed.data.reason, new Date());
        break;
      }
      case "confirm": {
        const { quantities, fieldErrors } = readLineQuantities(form, detail.lines, "quantity", "required");
        if (Object.keys(fieldErrors).length) return fail(fieldErrors);
        const adjustments = detail.lines.map((l) => ({
          lineId: l.id,
          quantity: quantities.get(l.id)!,
          reason: String(form.get(`reason.${l.id}`) ?? "").slice(0, 1000),
        }));
        try {
          const confirmed = await confirmOrder(db, actor, order.id, new Date(), adjustments);
          // Submitted on account: confirming charged the dealer's credit line and paid the order.
          if (confirmed.status === "paid" && confirmed.payment_method === "on_account") return done("orders.flash.confirmedOnAccount");
        } catch (error) {
          if (!isDomainError(error) || !["validation", "conflict"].includes(error.code)) throw error;
          const mapped = mapLineFields(error.fields, detail.lines.map((l) => l.id), { quantity: "quantity", reason: "reason", line_id: "quantity" });
          return fail(mapped, Object.keys(mapped).length ? null : error.message, error.status);
        }
        break;
      }
      case "ship": {
        const parsed = ShipSchema.safeParse(values);
        const { quantities, fieldErrors } = readLineQuantities(form, detail.lines, "ship", "zero");
        const errors = { ...(parsed.success ? {} : zodErrors(parsed.error)), ...fieldErrors };
        if (!parsed.success || Object.keys(errors).length) return fail(errors);
        // The model counts the lines it is given; zero lines are left out here, so keep the order.
        const moves = detail.lines.filter((l) => (quantities.get(l.id) ?? 0) > 0).map((l) => ({ lineId: l.id, quantity: quantities.get(l.id)! }));
        try {
          await shipOrder(db, actor, order.id, { carrier: parsed.data.carrier, trackingNumber: parsed.data.tracking_number, lines: moves }, new Date());
        } catch (error) {
          if (!isDomainError(error) || error.code !== "validation") throw error;
          const mapped = mapLineFields(error.fields, moves.map((m) => m.lineId), { quantity: "ship", line_id: "ship" });
          return fail(mapped, Object.keys(mapped).length ? null : error.message, error.status);
        }
        break;
      }
      case "approve_return":
        await decideReturn(db, actor, order.id, "approve", new Date());
        break;
      case "goods_back":
        await receiveReturnedGoods(db, actor, order.id);
        break;
      case "refund":
        await refundReturn(db, actor, order.id, new Date());
        break;
    }
    return done(FLASH[intent] ?? "orders.flash.updated");
  } catch (error) {
    if (error instanceof Response) throw error;
    const { failure, status } = domainFailure(error, intent, values);
    return data<OrderFormFailure>(failure, { status });
  }
}

// ---------------------------------------------------------------------------------------------
// Page

type LoaderData = ReturnType<typeof useLoaderData<typeof loader>>;

function Money({ fen }: { fen: number }) {
  const locale = useLocale();
  return <span className="num">{formatFen(fen, locale)}</span>;
}

function Fact({ label, children, testId }: { label: string; children: ReactNode; testId?: string }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd data-testid={testId}>{children}</dd>
    </div>
  );
}

/** The problems of the failed form `intent` that are not already shown next to one of `shown`. */
function useFormProblems(result: OrderFormFailure | undefined, intent: string | string[], shown: (field: string) => boolean = () => false) {
  const problem = useOrderProblem();
  const intents = Array.isArray(intent) ? intent : [intent];
  if (!result || !intents.includes(result.intent)) return { problems: [] as string[], fieldError: (_: string) => undefined as string | undefined, value: (_: string) => undefined as string | undefined };
  const rest = Object.entries(result.fieldErrors)
    .filter(([field]) => !shown(field))
    .map(([, text]) => problem(text)!)
    .filter(Boolean);
  const problems = rest.length ? rest : result.formError && Object.keys(result.fieldErrors).length === 0 ? [problem(result.formError)!] : [];
  return {
    problems,
    fieldError: (field: string) => problem(result.fieldErrors[field]),
    value: (field: string) => result.values[field],
  };
}

function IntentButton({ intent, label, variant, busy }: { intent: string; label: string; variant?: "secondary" | "danger"; busy: boolean }) {
  return (
    <Form method="post" className="od-inline">
      <CsrfInput />
      <input type="hidden" name="intent" value={intent} />
      <button type="submit" className={`sc-button ${variant ?? ""}`} disabled={busy} data-intent={intent}>
        {label}
      </button>
    </Form>
  );
}

function ReasonAction(props: { intent: string; label: string; fieldLabel: string; result: OrderFormFailure | undefined; busy: boolean; danger?: boolean }) {
  const f = useFormProblems(props.result, props.intent, (field) => field === "reason");
  return (
    <Form method="post" className="od-reason-form" noValidate>
      <CsrfInput />
      <input type="hidden" name="intent" value={props.intent} />
      <ActionError problems={f.problems} />
      <TextField
        name="reason"
        idPrefix={`${props.intent}-`}
        label={props.fieldLabel}
        required
        maxLength={500}
        defaultValue={f.value("reason")}
        error={f.fieldError("reason")}
      />
      <button type="submit" className={`sc-button ${props.danger ? "danger" : "secondary"}`} disabled={props.busy} data-intent={props.intent}>
        {props.label}
      </button>
    </Form>
  );
}

/**
 * Submit a draft: pay after the supplier confirms (default), or put it on account now, its total
 * held on the credit line shown. A preorder's deposit is paid, so it has no choice.
 */
function SubmitForm({ d, result, busy }: { d: LoaderData; result: OrderFormFailure | undefined; busy: boolean }) {
  const t = useT();
  const locale = useLocale();
  const credit = d.submitCredit;
  // Shown at the choice when there is one; a preorder has none, so its refusal goes above the button.
  const f = useFormProblems(result, "submit", (field) => field === "payment_method" && credit !== null);
  const chosen = f.value("payment_method");
  const raw = result?.intent === "submit" ? result.fieldErrors.payment_method : undefined;
  const error =
    raw === "exceeds the available credit" && credit
      ? t("orders.payChoice.refused", { total: formatFen(d.order.totalFen, locale), available: formatFen(credit.availableFen, locale) })
      : f.fieldError("payment_method");
  return (
    <Form method="post" noValidate data-testid="submit-form">
      <CsrfInput />
      <input type="hidden" name="intent" value="submit" />
      <ActionError problems={f.problems} />
      {credit ? (
        <PaymentChoice
          idPrefix="submit"
          chosen={chosen}
          error={error}
          onAccountHint={t("orders.payChoice.onAccountHint")}
          credit={
            <>
              {t("orders.payChoice.credit", { available: formatFen(credit.availableFen, locale), limit: formatFen(credit.limitFen, locale) })}
              {credit.availableFen < d.order.totalFen && !error ? <> · {t("orders.payChoice.creditShort")}</> : null}
            </>
          }
        />
      ) : null}
      <button type="submit" className="sc-button" disabled={busy} data-intent="submit">
        {t("orders.action.submit")}
      </button>
    </Form>
  );
}

function ConfirmForm({ lines, result, busy }: { lines: LoaderData["lines"]; result: OrderFormFailure | undefined; busy: boolean }) {
  const t = useT();
  const locale = useLocale();
  const f = useFormProblems(result, "confirm", (field) => /^(quantity|reason)\./.test(field));
  return (
    <Form method="post" noValidate data-testid="confirm-form">
      <CsrfInput />
      <input type="hidden" name="intent" value="confirm" />
      <h3>{t("orders.confirm.title")}</h3>
      <p className="sc-muted">{t("orders.confirm.intro")}</p>
      <ActionError problems={f.problems} />
      <div className="table-wrap">
        <table className="data od-form-table">
          <thead>
            <tr>
              <th scope="col">{t("orders.line.sku")}</th>
              <th scope="col" className="num">
                {t("orders.line.ordered")}
              </th>
              <th scope="col" className="num">
                {t("orders.line.amount")}
              </th>
              <th scope="col">{t("orders.confirm.quantity")}</th>
              <th scope="col">{t("orders.confirm.reason")}</th>
            </tr>
          </thead>
          <tbody>
            {lines.map((l) => {
              const qtyError = f.fieldError(`quantity.${l.id}`);
              const reasonError = f.fieldError(`reason.${l.id}`);
              return (
                <tr key={l.id}>
                  <td>
                    <span className="mono">{l.skuCode}</span>
                    <div className="sc-muted">{l.skuName}</div>
                  </td>
                  <td className="num">
                    {l.ordered} {l.unit}
                  </td>
                  <td className="num">{formatFen(l.amountFen, locale)}</td>
                  <td>
                    <label className="visually-hidden" htmlFor={`quantity.${l.id}`}>
                      {t("orders.confirm.quantityFor", { code: l.skuCode })}
                    </label>
                    <input
                      id={`quantity.${l.id}`}
                      name={`quantity.${l.id}`}
                      type="text"
                      inputMode="numeric"
                      defaultValue={f.value(`quantity.${l.id}`) ?? String(l.ordered)}
                      aria-invalid={qtyError ? true : undefined}
                      aria-describedby={qtyError ? `quantity.${l.id}-error` : undefined}
                    />
                    {qtyError ? (
                      <p className="field-error sc-error" id={`quantity.${l.id}-error`}>
                        {qtyError}
                      </p>
                    ) : null}
                  </td>
                  <td>
                    <label className="visually-hidden" htmlFor={`reason.${l.id}`}>
                      {t("orders.confirm.reasonFor", { code: l.skuCode })}
                    </label>
                    <input
                      id={`reason.${l.id}`}
                      name={`reason.${l.id}`}
                      type="text"
                      className="od-wide-input"
                      maxLength={500}
                      placeholder={t("orders.confirm.reasonPlaceholder")}
                      defaultValue={f.value(`reason.${l.id}`)}
                      aria-invalid={reasonError ? true : undefined}
                      aria-describedby={reasonError ? `reason.${l.id}-error` : undefined}
                    />
                    {reasonError ? (
                      <p className="field-error sc-error" id={`reason.${l.id}-error`}>
                        {reasonError}
                      </p>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <button type="submit" className="sc-button" disabled={busy} data-intent="confirm">
        {t("orders.action.confirm")}
      </button>
    </Form>
  );
}

function ShipForm({ lines, result, busy }: { lines: LoaderData["lines"]; result: OrderFormFailure | undefined; busy: boolean }) {
  const t = useT();
  const f = useFormProblems(result, "ship", (field) => /^ship\./.test(field) || field === "carrier" || field === "tracking_number");
  const open = lines.filter((l) => (l.confirmed ?? 0) - l.shipped > 0);
  return (
    <Form method="post" noValidate data-testid="ship-form">
      <CsrfInput />
      <input type="hidden" name="intent" value="ship" />
      <h3>{t("orders.ship.title")}</h3>
      <p className="sc-muted">{t("orders.ship.intro")}</p>
      <ActionError problems={f.problems} />
      <div className="sc-grid">
        <TextField name="carrier" label={t("orders.ship.carrier")} required maxLength={50} defaultValue={f.value("carrier")} error={f.fieldError("carrier")} />
        <TextField
          name="tracking_number"
          label={t("orders.ship.trackingNumber")}
          required
          maxLength={50}
          defaultValue={f.value("tracking_number")}
          error={f.fieldError("tracking_number")}
        />
      </div>
      <div className="table-wrap">
        <table className="data od-form-table">
          <thead>
            <tr>
              <th scope="col">{t("orders.line.sku")}</th>
              <th scope="col" className="num">
                {t("orders.line.confirmed")}
              </th>
              <th scope="col" className="num">
                {t("orders.line.shipped")}
              </th>
              <th scope="col">{t("orders.ship.quantity")}</th>
            </tr>
          </thead>
          <tbody>
            {open.map((l) => {
              const remaining = (l.confirmed ?? 0) - l.shipped;
              const error = f.fieldError(`ship.${l.id}`);
              return (
                <tr key={l.id}>
                  <td>
                    <span className="mono">{l.skuCode}</span>
                    <div className="sc-muted">{l.skuName}</div>
                  </td>
                  <td className="num">
                    {l.confirmed} {l.unit}
                  </td>
                  <td className="num">{l.shipped}</td>
                  <td>
                    <label className="visually-hidden" htmlFor={`ship.${l.id}`}>
                      {t("orders.ship.quantityFor", { code: l.skuCode })}
                    </label>
                    <input
                      id={`ship.${l.id}`}
                      name={`ship.${l.id}`}
                      type="text"
                      inputMode="numeric"
                      defaultValue={f.value(`ship.${l.id}`) ?? String(remaining)}
                      aria-invalid={error ? true : undefined}
                      aria-describedby={error ? `ship.${l.id}-error` : undefined}
                    />{" "}
                    <span className="sc-muted">{t("orders.ship.ofRemaining", { count: remaining })}</span>
                    {error ? (
                      <p className="field-error sc-error" id={`ship.${l.id}-error`}>
                        {error}
                      </p>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <button type="submit" className="sc-button" disabled={busy} data-intent="ship">
        {t("orders.action.ship")}
      </button>
    </Form>
  );
}

function Actions({ d, result, busy }: { d: LoaderData; result: OrderFormFailure | undefined; busy: boolean }) {
  const t = useT();
  const locale = useLocale();
  const a = new Set(d.actions);
  const isReturn = d.order.kind === "return";
  const dealer = d.party === "dealer";
  // A closed order can be placed again from its lines (a quick order, prefilled).
  const canReorder = dealer && d.canCreate && !isReturn && ["completed", "cancelled", "rejected"].includes(d.order.status);
  // What happens next, from this party's side (when there is something to say).
  const nextKey = `orders.next.${d.party}.${d.order.status}`;
  // The supplier refuses a submitted order by rejecting it; cancelling is for later, once confirmed.
  const canCancel = a.has("cancel") && !(!dealer && (a.has("reject") || a.has("reject_return")));
  const canPay = dealer && (a.has("pay") || a.has("pay_deposit") || a.has("choose_epay") || a.has("pay_on_account") || a.has("request_financing"));
  const buttons: ReactNode[] = [];
  const canSubmit = dealer && (a.has("submit") || a.has("submit_for_approval"));
  if (dealer && a.has("approve") && d.canApprove && !d.ownApprovalRequest) buttons.push(<IntentButton key="approve" intent="approve" label={t("orders.action.approve")} busy={busy} />);
  if (dealer && a.has("receive")) buttons.push(<IntentButton key="receive" intent="receive" label={t("orders.action.receive")} busy={busy} />);
  if (!dealer && a.has("approve_return")) buttons.push(<IntentButton key="approve_return" intent="approve_return" label={t("orders.action.approveReturn")} busy={busy} />);
  if (!dealer && a.has("goods_back")) buttons.push(<IntentButton key="goods_back" intent="goods_back" label={t("orders.action.goodsBack")} busy={busy} />);
  if (!dealer && a.has("refund"))
    buttons.push(<IntentButton key="refund" intent="refund" label={t("orders.action.refund", { amount: formatFen(d.order.totalFen, locale) })} busy={busy} />);
  if (dealer && d.canRepay && d.outstandingFen > 0)
    buttons.push(<IntentButton key="repay" intent="repay" label={t("orders.action.repay", { amount: formatFen(d.outstandingFen, locale) })} variant="secondary" busy={busy} />);

  const nothing =
    buttons.length === 0 &&
    !canSubmit &&
    !canPay &&
    !canCancel &&
    !a.has("reject") &&
    !a.has("reject_return") &&
    !a.has("confirm") &&
    !a.has("ship_part") &&
    !a.has("ship_all") &&
    !(a.has("decline_approval") && d.canApprove) &&
    !d.canReturn &&
    !canReorder;

  // Forms that show their own problems when they are on the page; every other failure (a button,
  // or a form the order's new state no longer offers) is told at the top of this panel.
  const ownForms: string[] = [];
  if (canSubmit) ownForms.push("submit");
  if (!dealer && a.has("confirm")) ownForms.push("confirm");
  if (!dealer && (a.has("ship_part") || a.has("ship_all"))) ownForms.push("ship");
  if (dealer && a.has("decline_approval") && d.canApprove) ownForms.push("decline");
  if (!dealer && (a.has("reject") || a.has("reject_return"))) ownForms.push("reject");
  if (canCancel) ownForms.push("cancel");
  const others = useFormProblems(result, result && !ownForms.includes(result.intent) ? result.intent : []);

  return (
    <section className="panel od-actions" aria-labelledby="actions-heading" data-testid="actions">
      <h2 id="actions-heading">{t("orders.actionsTitle")}</h2>
      {/* While an e-Pay attempt is in flight, or after one failed, its own notice says what comes next. */}
      {isMessageKey(nextKey) && !(canPay && (d.payment.inFlight || d.payment.lastFailedAt)) ? <p className="od-next">{translateDynamic(locale, nextKey, "")}</p> : null}
      {d.financing ? (
        <p className="od-next" data-testid="order-financing">
          {t("orders.financing.application", { number: d.financing.number, status: translateDynamic(locale, `financing.applicationStatus.${d.financing.status}`, d.financing.status) })}{" "}
          {d.financing.loanId && dealer ? <Link to={`/financing/loans/${d.financing.loanId}`}>{t("orders.financing.loanLink")}</Link> : dealer ? <Link to={`/financing/applications/${d.financing.id}`}>{t("orders.financing.applicationLink")}</Link> : null}
        </p>
      ) : null}
      <ActionError problems={others.problems} />
      {dealer && a.has("approve") && !d.canApprove ? <p className="notice">{t("orders.waitingApproval")}</p> : null}
      {dealer && a.has("approve") && d.canApprove && d.ownApprovalRequest ? (
        <p className="notice" data-testid="own-approval">
          {t("orders.problem.ownApproval")}
        </p>
      ) : null}
      {!dealer && d.order.status === "pending_approval" ? <p className="notice">{t("orders.waitingDealerApproval")}</p> : null}
      {!dealer && a.has("release") ? (
        <p>
          <Link to="/seasons">{t("orders.toSeasons")}</Link>
        </p>
      ) : null}
      {canPay && d.due && d.payment.inFlight ? <PaymentInFlight payment={d.payment.inFlight} /> : null}
      {canPay && d.due && !d.payment.inFlight ? (
        <div className="od-pay" data-testid="pay">
          {d.payment.lastFailedAt ? <PaymentLastFailed failedAt={d.payment.lastFailedAt} /> : null}
          <p>
            {t("orders.pay.due", { part: translate(locale, `orders.part.${d.due.part}`), amount: formatFen(d.due.amountFen, locale) })}
          </p>
          <div className="sc-actions">
            {a.has("pay") || a.has("pay_deposit") ? <IntentButton intent="pay_wallet" label={t("orders.action.payWallet")} busy={busy} /> : null}
            {a.has("choose_epay") || a.has("pay") || a.has("pay_deposit") ? (
              <IntentButton
                intent="epay"
                label={d.payment.lastFailedAt ? t("payments.action.epayRetry") : d.order.status === "awaiting_payment" ? t("orders.action.epayAgain") : t("orders.action.epay")}
                variant="secondary"
                busy={busy}
              />
            ) : null}
            {a.has("pay_on_account") ? <IntentButton intent="pay_on_account" label={t("orders.action.payOnAccount")} variant="secondary" busy={busy} /> : null}
            {a.has("request_financing") ? (
              <Link className="sc-button secondary" to={`/financing/apply/${d.order.id}`} data-intent="financing">
                {t("orders.action.financing")}
              </Link>
            ) : null}
          </div>
          {d.funds ? (
            <p className="sc-muted small" data-testid="funds">
              {t("orders.pay.funds", { wallet: formatFen(d.funds.walletFen, locale), credit: formatFen(d.funds.creditAvailableFen, locale) })}
            </p>
          ) : null}
          <p className="sc-muted small">{t("orders.pay.hint")}</p>
        </div>
      ) : null}
      {canSubmit ? <SubmitForm d={d} result={result} busy={busy} /> : null}
      {buttons.length || d.canReturn || canReorder ? (
        <div className="sc-actions od-buttons">
          {buttons}
          {canReorder ? (
            <Link to={`/orders/quick?reorder=${d.order.id}`} className="sc-button secondary" data-intent="reorder">
              {t("orders.action.reorder")}
            </Link>
          ) : null}
          {d.canReturn ? (
            <Link to={`/orders/${d.order.id}/return`} className="sc-button secondary">
              {t("orders.action.requestReturn")}
            </Link>
          ) : null}
        </div>
      ) : null}
      {!dealer && a.has("confirm") ? <ConfirmForm lines={d.lines} result={result} busy={busy} /> : null}
      {!dealer && (a.has("ship_part") || a.has("ship_all")) ? <ShipForm lines={d.lines} result={result} busy={busy} /> : null}
      <div className="od-reason-forms">
        {dealer && a.has("decline_approval") && d.canApprove ? (
          <ReasonAction intent="decline" label={t("orders.action.decline")} fieldLabel={t("orders.reason.decline")} result={result} busy={busy} />
        ) : null}
        {!dealer && (a.has("reject") || a.has("reject_return")) ? (
          <ReasonAction
            intent="reject"
            label={isReturn ? t("orders.action.rejectReturn") : t("orders.action.reject")}
            fieldLabel={t("orders.reason.reject")}
            result={result}
            busy={busy}
            danger
          />
        ) : null}
        {canCancel ? (
          <ReasonAction
            intent="cancel"
            label={isReturn ? t("orders.action.cancelReturn") : t("orders.action.cancel")}
            fieldLabel={t("orders.reason.cancel")}
            result={result}
            busy={busy}
            danger
          />
        ) : null}
      </div>
      {nothing && !isMessageKey(nextKey) ? <p className="empty">{t("orders.noActions")}</p> : null}
    </section>
  );
}

export default function OrderPage() {
  const d = useLoaderData<typeof loader>();
  const noteText = useOrderNote();
  const result = useActionData<typeof action>();
  const navigation = useNavigation();
  const busy = navigation.state === "submitting";
  const t = useT();
  const locale = useLocale();
  const { order } = d;
  const counterpart = d.party === "dealer" ? d.coreEnterpriseName : d.dealerName;
  const totalOrdered = d.lines.reduce((sum, l) => sum + l.unitPriceFen * l.ordered, 0);
  const held = d.creditHeld;
  return (
    <div className="sc-page od-page">
      <p>
        <Link to="/orders">← {t("orders.back")}</Link>
      </p>
      <div className="sc-head">
        <div>
          <p className="eyebrow">
            <OrderKindTag kind={order.kind} /> · {counterpart}
          </p>
          <h1 className="mono od-number" data-testid="order-number">
            {order.number}
          </h1>
          <p className="subtle small">{t("orders.createdAt", { at: formatDateTime(order.createdAt, locale) })}</p>
        </div>
        <OrderStatusTag status={order.status} />
      </div>

      <section className="panel" aria-labelledby="summary-heading">
        <h2 id="summary-heading" className="visually-hidden">
          {t("orders.summary")}
        </h2>
        <dl className="od-facts">
          <Fact label={t("orders.dealer")}>{d.dealerName}</Fact>
          <Fact label={t("orders.supplier")}>{d.coreEnterpriseName}</Fact>
          {d.seasonName ? <Fact label={t("orders.season")}>{d.seasonName}</Fact> : null}
          {d.original ? (
            <Fact label={t("orders.originalOrder")}>
              <Link to={`/orders/${d.original.id}`} className="mono">
                {d.original.number}
              </Link>
            </Fact>
          ) : null}
          <Fact label={t("orders.total")} testId="total">
            <Money fen={order.totalFen} />
          </Fact>
          {order.kind === "preorder" ? (
            <Fact label={t("orders.deposit")}>
              <Money fen={order.depositFen} />
            </Fact>
          ) : null}
          <Fact label={order.kind === "return" ? t("orders.refunded") : t("orders.paid")}>
            <Money fen={order.paidFen} />
          </Fact>
          {order.paymentMethod ? <Fact label={t("orders.paymentMethod")}>{translateDynamic(locale, `orders.method.${order.paymentMethod}`, order.paymentMethod)}</Fact> : null}
          {held ? (
            <Fact label={t("orders.creditHeld")} testId="credit-held">
              <Money fen={order.totalFen} />
            </Fact>
          ) : null}
          {d.outstandingFen > 0 || (order.paymentMethod === "on_account" && !held) ? (
            <Fact label={t("orders.outstanding")} testId="outstanding">
              <Money fen={d.outstandingFen} />
            </Fact>
          ) : null}
          {order.dueOn ? <Fact label={t("orders.dueOn")}>{formatDate(order.dueOn, locale)}</Fact> : null}
          {d.due ? (
            <Fact label={t("orders.dueNow")}>
              <Money fen={d.due.amountFen} /> <span className="sc-muted">({translate(locale, `orders.part.${d.due.part}`)})</span>
            </Fact>
          ) : null}
        </dl>
        {held ? (
          <p className="notice" data-testid="credit-held-notice">
            {t(d.party === "dealer" ? "orders.creditHeldNotice.dealer" : "orders.creditHeldNotice.core_enterprise", { amount: formatFen(order.totalFen, locale) })}
          </p>
        ) : null}
        {order.reason ? (
          <p className="od-reason">
            <strong>{t(order.kind === "return" ? "orders.returnReason" : "orders.reasonLabel")}</strong> {order.reason}
          </p>
        ) : null}
        {order.note ? (
          <p className="od-reason">
            <strong>{t("orders.note")}</strong> {order.note}
          </p>
        ) : null}
      </section>

      <Actions d={d} result={result} busy={busy} />

      <section className="panel" aria-labelledby="lines-heading">
        <h2 id="lines-heading">{t("orders.linesTitle")}</h2>
        <div className="table-wrap">
          <table className="data" data-testid="lines">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">{t("orders.line.sku")}</th>
                {order.kind === "return" ? (
                  <>
                    <th scope="col" className="num">
                      {t("orders.line.returnRequested")}
                    </th>
                    <th scope="col" className="num">
                      {t("orders.line.returnedBack")}
                    </th>
                  </>
                ) : (
                  <>
                    <th scope="col" className="num">
                      {t("orders.line.ordered")}
                    </th>
                    <th scope="col" className="num">
                      {t("orders.line.confirmed")}
                    </th>
                    <th scope="col" className="num">
                      {t("orders.line.shipped")}
                    </th>
                    <th scope="col" className="num">
                      {t("orders.line.returned")}
                    </th>
                  </>
                )}
                <th scope="col" className="num">
                  {t("orders.line.unitPrice")}
                </th>
                <th scope="col" className="num">
                  {t("orders.line.amount")}
                </th>
                <th scope="col">{t("orders.line.rule")}</th>
                <th scope="col" className="num">
                  {t("orders.line.taxRate")}
                </th>
              </tr>
            </thead>
            <tbody>
              {d.lines.map((l) => (
                <tr key={l.id}>
                  <td className="num">{l.lineNo}</td>
                  <td>
                    <span className="mono">{l.skuCode}</span>
                    <div>{l.skuName}</div>
                    {l.spec ? <div className="sc-muted">{l.spec}</div> : null}
                  </td>
                  {l.returnRequested !== null ? (
                    <>
                      <td className="num" data-testid="return-requested">
                        {l.returnRequested} {l.unit}
                      </td>
                      <td className="num" data-testid="returned-back">
                        {l.returnedBack} {l.unit}
                      </td>
                    </>
                  ) : (
                    <>
                      <td className="num">
                        {l.ordered} {l.unit}
                      </td>
                      <td className="num">
                        {l.confirmed ?? "—"}
                        {l.adjustReason ? <div className="od-adjust">{l.adjustReason}</div> : null}
                      </td>
                      <td className="num">{l.shipped}</td>
                      <td className="num">{l.returned}</td>
                    </>
                  )}
                  <td className="num">{formatFen(l.unitPriceFen, locale)}</td>
                  <td className="num">{formatFen(l.amountFen, locale)}</td>
                  <td>
                    <RuleTag rule={l.rule} />
                  </td>
                  <td className="num">{l.taxRate}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row" colSpan={order.kind === "return" ? 5 : 7} className="num">
                  {t("orders.total")}
                  {totalOrdered !== order.totalFen ? <div className="sc-muted">{t("orders.totalWas", { amount: formatFen(totalOrdered, locale) })}</div> : null}
                </th>
                <td className="num od-total">{formatFen(order.totalFen, locale)}</td>
                <td colSpan={2} />
              </tr>
            </tfoot>
          </table>
        </div>
        <p className="sc-muted small">{t("orders.taxInclusive")}</p>
      </section>

      {d.shipments.length ? (
        <section className="panel" aria-labelledby="shipments-heading">
          <h2 id="shipments-heading">{t("orders.shipmentsTitle")}</h2>
          <div className="table-wrap">
            <table className="data" data-testid="shipments">
              <thead>
                <tr>
                  <th scope="col">{t("table.time")}</th>
                  <th scope="col">{t("orders.ship.carrier")}</th>
                  <th scope="col">{t("orders.ship.trackingNumber")}</th>
                  <th scope="col">{t("orders.ship.contents")}</th>
                </tr>
              </thead>
              <tbody>
                {d.shipments.map((s) => (
                  <tr key={s.id}>
                    <td className="nowrap">{formatDateTime(s.shippedAt, locale)}</td>
                    <td>{s.carrier}</td>
                    <td className="mono">{s.trackingNumber}</td>
                    <td>{s.lines.map((l) => `${l.code} × ${l.quantity}`).join("，")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ) : null}

      {d.returns.length ? (
        <section className="panel" aria-labelledby="returns-heading">
          <h2 id="returns-heading">{t("orders.returnsTitle")}</h2>
          <ul className="od-returns">
            {d.returns.map((r) => (
              <li key={r.id}>
                <Link to={`/orders/${r.id}`} className="mono">
                  {r.number}
                </Link>{" "}
                <OrderStatusTag status={r.status} /> <Money fen={r.totalFen} />
              </li>
            ))}
          </ul>
        </section>
      ) : null}

      <section className="panel" aria-labelledby="timeline-heading">
        <h2 id="timeline-heading">{t("orders.timelineTitle")}</h2>
        <ol className="od-timeline" data-testid="timeline">
          {d.events.map((e) => (
            <li key={e.id} data-event={e.event}>
              <time dateTime={e.at}>{formatDateTime(e.at, locale)}</time>
              <div>
                <strong>{translateDynamic(locale, `orders.event.${e.event}`, e.event)}</strong>
                {e.from && e.from !== e.to ? (
                  <span className="sc-muted">
                    {" "}
                    {translateDynamic(locale, `orders.status.${e.from}`, e.from)} → {translateDynamic(locale, `orders.status.${e.to}`, e.to)}
                  </span>
                ) : null}
                <div className="sc-muted">
                  {e.actor ?? t("orders.system")}
                  {e.note ? <span className="od-note"> · {noteText(e.note)}</span> : null}
                  {e.creditHeldFen !== null ? <span data-testid="timeline-credit-held"> · {t("orders.timelineCreditHeld", { amount: formatFen(e.creditHeldFen, locale) })}</span> : null}
                  {e.creditReleasedFen !== null ? (
                    <span data-testid="timeline-credit-released"> · {t("orders.timelineCreditReleased", { amount: formatFen(e.creditReleasedFen, locale) })}</span>
                  ) : null}
                </div>
              </div>
            </li>
          ))}
        </ol>
      </section>
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
