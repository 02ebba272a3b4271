import { z } from "zod";
import {
  MARKET_MERCHANT_STATUSES,
  MARKET_STATUSES,
  MERCHANT_APPLICATION_STATUSES,
  STALL_STATUSES,
} from "../../../db/schema/market";
import { defineEndpoint, type EndpointSpec } from "../endpoint";
import { businessDate, fen, idParam, isoTimestamp, pageOf, pageQuery } from "../schemas";

/**
 * The market operator's venues over /api/v1: markets, zones, stalls, the merchants trading there,
 * the applications that bring them in, and fee schedules. Read by any member of the operator;
 * changed by owner, admin and sales (like the pages, market-access.server.ts). Every other kind of
 * organisation gets 404 — except a merchant, which reads the markets it trades in.
 *
 * Bodies are checked here for shape only (types, sizes, unknown fields); the rules — the USCC check
 * character, a market's categories, ranges, vacant stalls — are the model's (market.server.ts,
 * market-fees.server.ts), the same ones the pages apply, and come back in `error.fields` as
 * sentences in English (Chinese with `Accept-Language: zh-CN`).
 *
 * Updates are `POST /…/{id}` with partial semantics (docs/decisions/006-api.md): PATCH is 405.
 * Ids in paths: `{id}` is the market; `{merchantId}` is the merchant's membership id in that market
 * (`id` of a merchant in the list), not the merchant organisation's id.
 */

const TAGS = ["markets"] as const;
const OPERATOR = ["market_operator"] as const;

/** Defaults of a new market when the body leaves them out: the values the page suggests. */
export const MARKET_DEFAULTS = { autoConfirmDays: 7, unpaidExpiryMinutes: 30 } as const;

/** Model field names → API names where snake_case alone would not give them. */
export const MARKET_FIELD_NAMES: Record<string, string> = {
  area: "area_dm2",
  monthlyRent: "monthly_rent_fen",
  commissionRate: "commission_rate_bps",
  minFee: "min_fee_fen",
  form: "body",
};

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const categoriesIn = z
  .array(z.string().max(100))
  .max(100)
  .describe("The market's categories (e.g. 女装, 男装): 1–30, each up to 20 characters");

// ---------------------------------------------------------------------------------------------
// Shapes

const membershipSchema = z
  .object({
    id: z.string().describe("Your membership id in this market"),
    status: z.enum(MARKET_MERCHANT_STATUSES),
    status_reason: z.string(),
    stall: z.object({ id: z.string(), code: z.string() }).nullable(),
    categories: z.array(z.string()),
  })
  .describe("A merchant's own membership; null for the operator");

export const marketSchema = z.object({
  id: z.string(),
  name: z.string(),
  city: z.string(),
  categories: z.array(z.string()),
  auto_confirm_days: z.number().int().describe("A shipped order is confirmed received after this many days"),
  unpaid_expiry_minutes: z.number().int().describe("An unpaid order expires after this many minutes"),
  status: z.enum(MARKET_STATUSES),
  membership: membershipSchema.nullable(),
  created_at: isoTimestamp,
  updated_at: isoTimestamp,
});

export const zoneSchema = z.object({ id: z.string(), market_id: z.string(), name: z.string() });

const STALL_ACTIONS = ["close", "reopen"] as const;
export const stallSchema = z.object({
  id: z.string(),
  market_id: z.string(),
  code: z.string().describe("Printed on the stall, e.g. A-101; unique in the market"),
  zone: z.object({ id: z.string(), name: z.string() }).nullable(),
  area_dm2: z.number().int().describe("Area in square decimetres (1 m² = 100 dm²)"),
  monthly_rent_fen: fen,
  status: z.enum(STALL_STATUSES),
  merchant_name: z.string().nullable().describe("Who trades in it, when occupied"),
  actions: z.array(z.enum(STALL_ACTIONS)).describe("Transitions you may fire now (assignment goes through applications)"),
});

const MERCHANT_ACTIONS = ["suspend", "reactivate"] as const;
export const merchantSchema = z.object({
  id: z.string().describe("The membership id: use it in /merchants/{merchantId}"),
  market_id: z.string(),
  organization: z.object({ id: z.string(), name: z.string(), uscc: z.string().nullable() }).describe("The merchant organisation"),
  stall: z.object({ id: z.string(), code: z.string() }).nullable(),
  categories: z.array(z.string()),
  status: z.enum(MARKET_MERCHANT_STATUSES),
  status_reason: z.string(),
  actions: z.array(z.enum(MERCHANT_ACTIONS)),
  created_at: isoTimestamp,
});

const APPLICATION_ACTIONS = ["approve", "reject"] as const;
export const applicationSchema = z.object({
  id: z.string(),
  market_id: z.string(),
  status: z.enum(MERCHANT_APPLICATION_STATUSES),
  uscc: z.string(),
  company_name: z.string(),
  legal_representative: z.string(),
  contact_name: z.string(),
  contact_phone: z.string(),
  stall_wish: z.string(),
  categories: z.array(z.string()),
  decision_reason: z.string().describe("Why it was rejected; empty otherwise"),
  assigned_stall: z.object({ id: z.string(), code: z.string() }).nullable(),
  merchant_organization_id: z.string().nullable().describe("The merchant organisation, once approved"),
  actions: z.array(z.enum(APPLICATION_ACTIONS)),
  decided_at: isoTimestamp.nullable(),
  created_at: isoTimestamp,
});

export const approvedApplicationSchema = applicationSchema.extend({
  merchant: merchantSchema.describe("The merchant as it now trades in the market"),
  organization_created: z.boolean().describe("True when no organisation had this USCC and a merchant organisation was created"),
});

export const feeScheduleSchema = z.object({
  id: z.string(),
  market_id: z.string(),
  category: z.string(),
  commission_rate_bps: count.describe("Commission on the order amount in basis points (250 = 2.5 %)"),
  min_fee_fen: fen.describe("Minimum commission per order"),
  effective_from: businessDate,
  state: z.enum(["in_force", "scheduled", "superseded"]).describe("Today (Asia/Shanghai)"),
  created_at: isoTimestamp,
});

export const feeInForceSchema = z.object({
  market_id: z.string(),
  category: z.string(),
  on: businessDate,
  schedule: feeScheduleSchema.omit({ state: true }).nullable().describe("null: no schedule has started by that date (no commission)"),
});

// ---------------------------------------------------------------------------------------------
// Parameters

const marketParams = z.object({ id: idParam });
const stallParams = z.object({ id: idParam, stallId: idParam });
const merchantParams = z.object({ id: idParam, merchantId: idParam });
const applicationParams = z.object({ id: idParam, applicationId: idParam });
const emptyBody = z.object({}).strict();

// ---------------------------------------------------------------------------------------------
// Markets

export const listMarkets = defineEndpoint({
  method: "GET",
  path: "/api/v1/markets",
  operationId: "listMarkets",
  summary: "Your markets by name: an operator's own, or those a merchant trades in",
  tags: TAGS,
  auth: "required",
  orgKinds: ["market_operator", "merchant"],
  query: z.object({ status: z.enum(MARKET_STATUSES).optional(), ...pageQuery }),
  response: pageOf(marketSchema),
});

const marketBody = {
  name: z.string().max(500).describe("Unique among your markets, up to 100 characters"),
  city: z.string().max(500).describe("Up to 50 characters"),
  categories: categoriesIn,
  auto_confirm_days: z.number().int().describe("1–30"),
  unpaid_expiry_minutes: z.number().int().describe("5–10080"),
};

export const createMarket = defineEndpoint({
  method: "POST",
  path: "/api/v1/markets",
  operationId: "createMarket",
  summary: "Open a market (venue)",
  tags: TAGS,
  auth: "required",
  orgKinds: OPERATOR,
  action: "market.write",
  body: z
    .object({
      ...marketBody,
      auto_confirm_days: marketBody.auto_confirm_days.optional().describe(`1–30, default ${MARKET_DEFAULTS.autoConfirmDays}`),
      unpaid_expiry_minutes: marketBody.unpaid_expiry_minutes.optional().describe(`5–10080, default ${MARKET_DEFAULTS.unpaidExpiryMinutes}`),
    })
    .strict(),
  response: marketSchema,
  successStatus: 201,
  errors: [409],
});

export const getMarket = defineEndpoint({
  method: "GET",
  path: "/api/v1/markets/{id}",
  operationId: "getMarket",
  summary: "One market: the operator's own, or one a merchant trades in",
  tags: TAGS,
  auth: "required",
  orgKinds: ["market_operator", "merchant"],
  params: marketParams,
  response: marketSchema,
});

export const updateMarket = defineEndpoint({
  method: "POST",
  path: "/api/v1/markets/{id}",
  operationId: "updateMarket",
  summary: "Change a market: send only what changes",
  description:
    "Partial update (omitted fields keep their values). A category still used by a merchant or a fee schedule cannot be " +
    "removed (409, `categories`). The escrow timers apply to orders placed afterwards.",
  tags: TAGS,
  auth: "required",
  orgKinds: OPERATOR,
  action: "market.write",
  params: marketParams,
  body: z
    .object(marketBody)
    .partial()
    .strict()
    .refine((b) => Object.keys(b).length > 0, { message: "send at least one field to change" }),
  response: marketSchema,
  errors: [409],
});

// ---------------------------------------------------------------------------------------------
// Zones and stalls

export const listZones = defineEndpoint({
  method: "GET",
  path: "/api/v1/markets/{id}/zones",
  operationId: "listMarketZones",
  summary: "Every zone of the market, by name (at most 100: `next_cursor` is always null)",
  tags: TAGS,
  auth: "required",
  orgKinds: OPERATOR,
  params: marketParams,
  response: pageOf(zoneSchema),
});

export const createZone = defineEndpoint({
  method: "POST",
  path: "/api/v1/markets/{id}/zones",
  operationId: "createMarketZone",
  summary: "Add a zone (e.g. A区 女装馆)",
  tags: TAGS,
  auth: "required",
  orgKinds: OPERATOR,
  action: "market.zone_write",
  params: marketParams,
  body: z.object({ name: z.string().max(500).describe("Unique in the market, up to 50 characters") }).strict(),
  response: zoneSchema,
  successStatus: 201,
  errors: [409],
});

export const listStalls = defineEndpoint({
  method: "GET",
  path: "/api/v1/markets/{id}/stalls",
  operationId: "listMarketStalls",
  summary: "The market's stalls by code",
  tags: TAGS,
  auth: "required",
  orgKinds: OPERATOR,
  params: marketParams,
  query: z.object({ status: z.enum(STALL_STATUSES).optional(), zone_id: z.string().max(64).optional(), ...pageQuery }),
  response: pageOf(stallSchema),
});

export const createStall = defineEndpoint({
  method: "POST",
  path: "/api/v1/markets/{id}/stalls",
  operationId: "createMarketStall",
  summary: "Add a stall (vacant)",
  tags: TAGS,
  auth: "required",
  orgKinds: OPERATOR,
  action: "market.stall_write",
  params: marketParams,
  body: z
    .object({
      code: z.string().max(100).describe("Letters, digits and -, up to 20; upper-cased (a-101 → A-101)"),
      zone_id: z.string().max(64).nullable().optional().describe("One of the market's zones; null or omitted for none"),
      area_dm2: count.describe("Square decimetres, 1–10,000,000 (12.5 m² = 1250)"),
      monthly_rent_fen: fen.describe("Up to 100,000,000,000"),
    })
    .strict(),
  response: stallSchema,
  successStatus: 201,
  errors: [409],
});

export const getStall = defineEndpoint({
  method: "GET",
  path: "/api/v1/markets/{id}/stalls/{stallId}",
  operationId: "getMarketStall",
  summary: "One stall",
  tags: TAGS,
  auth: "required",
  orgKinds: OPERATOR,
  params: stallParams,
  response: stallSchema,
});

export const updateStall = defineEndpoint({
  method: "POST",
  path: "/api/v1/markets/{id}/stalls/{stallId}",
  operationId: "updateMarketStall",
  summary: "Change a stall's zone, area or rent: send only what changes (the code stays)",
  tags: TAGS,
  auth: "required",
  orgKinds: OPERATOR,
  action: "market.stall_write",
  params: stallParams,
  body: z
    .object({
      zone_id: z.string().max(64).nullable(),
      area_dm2: count,
      monthly_rent_fen: fen,
    })
    .partial()
    .strict()
    .refine((b) => Object.keys(b).length > 0, { message: "send at least one field to change" }),
  response: stallSchema,
});

const stallTransition = (operationId: string, path: `/api/v1/markets/{id}/stalls/{stallId}/${string}`, summary: string) =>
  defineEndpoint({
    method: "POST",
    path,
    operationId,
    summary,
    tags: TAGS,
    auth: "required",
    orgKinds: OPERATOR,
    action: "market.stall_write",
    params: stallParams,
    body: emptyBody,
    response: stallSchema,
    errors: [409],
  });

export const closeStall = stallTransition("closeMarketStall", "/api/v1/markets/{id}/stalls/{stallId}/close", "Close a vacant stall (no new merchant can be put in it)");
export const reopenStall = stallTransition("reopenMarketStall", "/api/v1/markets/{id}/stalls/{stallId}/reopen", "Reopen a closed stall (vacant again)");

// ---------------------------------------------------------------------------------------------
// Merchants

export const listMerchants = defineEndpoint({
  method: "GET",
  path: "/api/v1/markets/{id}/merchants",
  operationId: "listMarketMerchants",
  summary: "The merchants trading in the market, by name",
  tags: TAGS,
  auth: "required",
  orgKinds: OPERATOR,
  params: marketParams,
  query: z.object({ status: z.enum(MARKET_MERCHANT_STATUSES).optional(), ...pageQuery }),
  response: pageOf(merchantSchema),
});

export const getMerchant = defineEndpoint({
  method: "GET",
  path: "/api/v1/markets/{id}/merchants/{merchantId}",
  operationId: "getMarketMerchant",
  summary: "One merchant of the market (by membership id)",
  tags: TAGS,
  auth: "required",
  orgKinds: OPERATOR,
  params: merchantParams,
  response: merchantSchema,
});

const merchantTransition = (operationId: string, path: `/api/v1/markets/{id}/merchants/{merchantId}/${string}`, summary: string) =>
  defineEndpoint({
    method: "POST",
    path,
    operationId,
    summary,
    tags: TAGS,
    auth: "required",
    orgKinds: OPERATOR,
    action: "market.merchant_transition",
    params: merchantParams,
    body: z.object({ reason: z.string().max(2000).describe("Recorded with the change, up to 200 characters") }).strict(),
    response: merchantSchema,
    errors: [409],
  });

export const suspendMerchant = merchantTransition(
  "suspendMarketMerchant",
  "/api/v1/markets/{id}/merchants/{merchantId}/suspend",
  "Suspend a merchant in this market, with a reason (it stops trading here)",
);
export const reactivateMerchant = merchantTransition(
  "reactivateMarketMerchant",
  "/api/v1/markets/{id}/merchants/{merchantId}/reactivate",
  "Reactivate a suspended merchant, with a reason",
);

// ---------------------------------------------------------------------------------------------
// Applications

export const listApplications = defineEndpoint({
  method: "GET",
  path: "/api/v1/markets/{id}/applications",
  operationId: "listMerchantApplications",
  summary: "Applications to trade in the market, newest first (`status=submitted` for those waiting)",
  tags: TAGS,
  auth: "required",
  orgKinds: OPERATOR,
  params: marketParams,
  query: z.object({ status: z.enum(MERCHANT_APPLICATION_STATUSES).optional(), ...pageQuery }),
  response: pageOf(applicationSchema),
});

export const createApplication = defineEndpoint({
  method: "POST",
  path: "/api/v1/markets/{id}/applications",
  operationId: "createMerchantApplication",
  summary: "Record a company's application to trade in the market (the operator enters it, as on the page)",
  description:
    "Checked like the page's form: the 18-character USCC with its check character, a phone number, categories of this " +
    "market. One waiting application per company per market (409 `uscc`), none for a company already trading here.",
  tags: TAGS,
  auth: "required",
  orgKinds: OPERATOR,
  action: "market.application_write",
  params: marketParams,
  body: z
    .object({
      uscc: z.string().max(64).describe("Unified Social Credit Code, 18 characters"),
      company_name: z.string().max(1000).describe("Up to 200 characters"),
      legal_representative: z.string().max(500).describe("Up to 50 characters"),
      contact_name: z.string().max(500).describe("Up to 50 characters"),
      contact_phone: z.string().max(100),
      stall_wish: z.string().max(1000).optional().describe("Which stall or area the company would like, up to 200 characters"),
      categories: categoriesIn.describe("What it will sell: categories of this market"),
    })
    .strict(),
  response: applicationSchema,
  successStatus: 201,
  errors: [409],
});

export const getApplication = defineEndpoint({
  method: "GET",
  path: "/api/v1/markets/{id}/applications/{applicationId}",
  operationId: "getMerchantApplication",
  summary: "One application",
  tags: TAGS,
  auth: "required",
  orgKinds: OPERATOR,
  params: applicationParams,
  response: applicationSchema,
});

export const approveApplication = defineEndpoint({
  method: "POST",
  path: "/api/v1/markets/{id}/applications/{applicationId}/approve",
  operationId: "approveMerchantApplication",
  summary: "Approve with a vacant stall: the company becomes a merchant of the market in that stall",
  description:
    "One transaction: links the merchant organisation with this USCC (or creates one), adds it to the market with the " +
    "application's categories, occupies the stall, and closes the application. A stall of another market is 422 " +
    "`stall_id`; an occupied or closed one 409 `stall_id`.",
  tags: TAGS,
  auth: "required",
  orgKinds: OPERATOR,
  action: "market.application_decide",
  params: applicationParams,
  body: z.object({ stall_id: z.string().max(64).describe("A vacant stall of this market") }).strict(),
  response: approvedApplicationSchema,
  errors: [409],
});

export const rejectApplication = defineEndpoint({
  method: "POST",
  path: "/api/v1/markets/{id}/applications/{applicationId}/reject",
  operationId: "rejectMerchantApplication",
  summary: "Reject, with a reason",
  tags: TAGS,
  auth: "required",
  orgKinds: OPERATOR,
  action: "market.application_decide",
  params: applicationParams,
  body: z.object({ reason: z.string().max(2000).describe("Up to 200 characters") }).strict(),
  response: applicationSchema,
  errors: [409],
});

// ---------------------------------------------------------------------------------------------
// Fee schedules

export const listFeeSchedules = defineEndpoint({
  method: "GET",
  path: "/api/v1/markets/{id}/fee-schedules",
  operationId: "listMarketFeeSchedules",
  summary: "The market's fee schedules by category, newest start first, each with its state today",
  tags: TAGS,
  auth: "required",
  orgKinds: OPERATOR,
  params: marketParams,
  query: z.object({ category: z.string().max(100).optional(), ...pageQuery }),
  response: pageOf(feeScheduleSchema),
});

export const createFeeSchedule = defineEndpoint({
  method: "POST",
  path: "/api/v1/markets/{id}/fee-schedules",
  operationId: "createMarketFeeSchedule",
  summary: "Add a fee schedule for a category from a date (today or later)",
  description:
    "Schedules are never changed: a new rate is a new schedule from its start date. One schedule per category and start " +
    "date (409 `effective_from`). The commission on an order is rate × amount, rounded half-even to the fen, at least " +
    "the minimum and never more than the amount.",
  tags: TAGS,
  auth: "required",
  orgKinds: OPERATOR,
  action: "market.fee_write",
  params: marketParams,
  body: z
    .object({
      category: z.string().max(100).describe("One of the market's categories"),
      commission_rate_bps: count.describe("Basis points, 0–5000 (250 = 2.5 %)"),
      min_fee_fen: fen.optional().describe("Minimum commission per order, 0–100,000,000; default 0"),
      effective_from: z.string().max(20).describe("YYYY-MM-DD (Asia/Shanghai), today or later"),
    })
    .strict(),
  response: feeScheduleSchema,
  successStatus: 201,
  errors: [409],
});

export const feeInForce = defineEndpoint({
  method: "GET",
  path: "/api/v1/markets/{id}/fee-schedules/in-force",
  operationId: "getMarketFeeInForce",
  summary: "The fee schedule in force for a category on a date: the latest started on or before it",
  tags: TAGS,
  auth: "required",
  orgKinds: OPERATOR,
  params: marketParams,
  query: z.object({
    category: z.string().max(100).describe("One of the market's categories"),
    on: z.string().max(20).optional().describe("YYYY-MM-DD (Asia/Shanghai); default today"),
  }),
  response: feeInForceSchema,
});

export const endpoints: readonly EndpointSpec[] = [
  listMarkets,
  createMarket,
  getMarket,
  updateMarket,
  listZones,
  createZone,
  listStalls,
  createStall,
  getStall,
  updateStall,
  closeStall,
  reopenStall,
  listMerchants,
  getMerchant,
  suspendMerchant,
  reactivateMerchant,
  listApplications,
  createApplication,
  getApplication,
  approveApplication,
  rejectApplication,
  listFeeSchedules,
  createFeeSchedule,
  feeInForce,
];
