import { z } from "zod";
import { APPLICATION_STATUSES, CAMPAIGN_STATUSES, SALES_CHANNELS } from "../../../db/schema/recruitment";
import { defineEndpoint } from "../endpoint";
import { businessDate, fen, idParam, isoTimestamp, pageOf, pageQuery } from "../schemas";

/**
 * Online dealer recruitment over /api/v1. Campaigns are made and decided by a core enterprise; the
 * campaign and its application form are public (no credentials): a company applies with an
 * `Idempotency-Key`, receives an `access_token` once, and reads its application back with the
 * header `X-Application-Token: <access_token>`.
 *
 * Bodies are checked here for shape only (types, sizes, unknown fields); the rules — the USCC check
 * character, regions of the campaign, dates, amounts — are the model's, the same ones the pages
 * apply, and come back in `error.fields` as sentences in English (or Chinese with
 * `Accept-Language: zh-CN`).
 */

export const APPLICATION_TOKEN_HEADER = "x-application-token";

const campaignBody = {
  title: z.string().max(500),
  description: z.string().max(20_000),
  requirements: z.string().max(20_000),
  regions: z.array(z.string().max(500)).max(100).describe("Where dealers are wanted, e.g. 浙江省温州市 (1–30)"),
  quota: z.number().int().describe("Approvals allowed, 1–10000"),
  deposit_fen: z.number().int().describe("Deposit asked of each approved dealer, in fen; 0 = none"),
  closes_on: z.string().max(20).describe("Last day applications are taken, YYYY-MM-DD (Asia/Shanghai), inclusive"),
  tier_id: z.string().max(64).nullable().describe("Dealer tier given on approval; null = base prices"),
  credit_limit_fen: z.number().int().describe("Trade credit limit given on approval, in fen"),
  payment_terms_days: z.number().int().describe("Payment terms given on approval, 0–365 days"),
};

export const campaignSchema = z.object({
  id: z.string(),
  status: z.enum(CAMPAIGN_STATUSES),
  title: z.string(),
  description: z.string(),
  requirements: z.string(),
  regions: z.array(z.string()),
  quota: z.number().int(),
  approved_count: z.number().int(),
  deposit_fen: fen,
  closes_on: businessDate,
  tier: z.object({ id: z.string(), name: z.string() }).nullable(),
  credit_limit_fen: fen,
  payment_terms_days: z.number().int(),
  public_url: z.string().describe("The public campaign page (application form) on the web"),
  created_at: isoTimestamp,
  updated_at: isoTimestamp,
  published_at: isoTimestamp.nullable(),
  closed_at: isoTimestamp.nullable(),
});

export const publicCampaignSchema = z.object({
  id: z.string(),
  core_enterprise: z.object({ name: z.string(), name_en: z.string().nullable() }),
  status: z.enum(["published", "closed"]),
  title: z.string(),
  description: z.string(),
  requirements: z.string(),
  regions: z.array(z.string()),
  quota: z.number().int(),
  places_left: z.number().int(),
  deposit_fen: fen,
  closes_on: businessDate,
  accepting_applications: z.boolean(),
  not_accepting_reason: z.enum(["draft", "closed", "past_closing", "full"]).nullable(),
  channels: z.array(z.enum(SALES_CHANNELS)).describe("The sales channel codes an application may name"),
  public_url: z.string(),
});

const timelineSchema = z.array(
  z.object({
    event: z.string(),
    from_status: z.enum(APPLICATION_STATUSES).nullable(),
    to_status: z.enum(APPLICATION_STATUSES),
    actor: z.enum(["applicant", "reviewer", "system"]),
    message: z.string(),
    at: isoTimestamp,
  }),
);

export const applicationSchema = z.object({
  id: z.string(),
  campaign_id: z.string(),
  status: z.enum(APPLICATION_STATUSES),
  company_name: z.string(),
  uscc: z.string(),
  legal_representative: z.string(),
  contact_name: z.string(),
  contact_phone: z.string(),
  contact_email: z.string(),
  region: z.string(),
  channels: z.array(z.enum(SALES_CHANNELS)),
  notes: z.string(),
  documents: z.array(z.object({ id: z.string(), file_name: z.string(), size_bytes: z.number().int(), created_at: isoTimestamp })),
  timeline: timelineSchema,
  /** What the reviewer asked, while an answer is due. */
  open_question: z.string().nullable(),
  dealer_organization_id: z.string().nullable(),
  dealer_link_id: z.string().nullable(),
  invitation: z
    .object({
      email: z.string(),
      state: z.enum(["pending", "accepted", "expired", "revoked"]),
      expires_at: isoTimestamp,
      url: z.string().nullable().describe("The link to set a password, while pending (no email is sent: pass it on)"),
    })
    .nullable(),
  deposit_fen: fen,
  deposit_paid_at: isoTimestamp.nullable(),
  deposit_url: z.string().nullable().describe("Where the dealer pays the deposit (signed in), while it is due"),
  status_url: z.string().nullable().describe("The applicant's private status page; only in the answer that creates the application"),
  created_at: isoTimestamp,
  updated_at: isoTimestamp,
});

export const createdApplicationSchema = applicationSchema.extend({
  access_token: z.string().describe("Shown once: send it as X-Application-Token to read the application"),
});

const idParams = z.object({ id: idParam });

export const listCampaigns = defineEndpoint({
  method: "GET",
  path: "/api/v1/campaigns",
  operationId: "listCampaigns",
  summary: "The core enterprise's recruitment campaigns, newest first",
  tags: ["recruitment"],
  auth: "required",
  orgKinds: ["core_enterprise"],
  query: z.object({ status: z.enum(CAMPAIGN_STATUSES).optional(), ...pageQuery }),
  response: pageOf(campaignSchema),
});

export const createCampaign = defineEndpoint({
  method: "POST",
  path: "/api/v1/campaigns",
  operationId: "createCampaign",
  summary: "Create a recruitment campaign (a draft, or published at once with `publish: true`)",
  tags: ["recruitment"],
  auth: "required",
  orgKinds: ["core_enterprise"],
  action: "campaign.write",
  body: z
    .object({
      ...campaignBody,
      description: campaignBody.description.optional(),
      requirements: campaignBody.requirements.optional(),
      tier_id: campaignBody.tier_id.optional(),
      credit_limit_fen: campaignBody.credit_limit_fen.optional(),
      payment_terms_days: campaignBody.payment_terms_days.optional(),
      deposit_fen: campaignBody.deposit_fen.optional(),
      publish: z.boolean().optional().describe("Publish right away (default false: a draft)"),
    })
    .strict(),
  response: campaignSchema,
  successStatus: 201,
});

export const getCampaign = defineEndpoint({
  method: "GET",
  path: "/api/v1/campaigns/{id}",
  operationId: "getCampaign",
  summary: "A published campaign, as the public sees it (no credentials needed)",
  description: "Drafts are not public: 404. The owning core enterprise reads its own campaigns, drafts included, with GET /api/v1/campaigns.",
  tags: ["recruitment"],
  auth: "none",
  params: idParams,
  response: publicCampaignSchema,
});

export const publishCampaign = defineEndpoint({
  method: "POST",
  path: "/api/v1/campaigns/{id}/publish",
  operationId: "publishCampaign",
  summary: "Publish a draft campaign (its closing date must be ahead)",
  tags: ["recruitment"],
  auth: "required",
  orgKinds: ["core_enterprise"],
  action: "campaign.transition",
  params: idParams,
  body: z.object({}).strict(),
  response: campaignSchema,
});

export const closeCampaign = defineEndpoint({
  method: "POST",
  path: "/api/v1/campaigns/{id}/close",
  operationId: "closeCampaign",
  summary: "Close a campaign: no new applications; those received can still be decided",
  tags: ["recruitment"],
  auth: "required",
  orgKinds: ["core_enterprise"],
  action: "campaign.transition",
  params: idParams,
  body: z.object({}).strict(),
  response: campaignSchema,
});

export const submitApplication = defineEndpoint({
  method: "POST",
  path: "/api/v1/campaigns/{id}/applications",
  operationId: "submitApplication",
  summary: "Apply to a campaign (public: no credentials, but an Idempotency-Key)",
  description:
    "Checked like the web form: the 18-character USCC with its check character, a region of the campaign, at least one " +
    "channel. The answer carries `access_token` once (it is stored only as a hash): read the application back with " +
    "`X-Application-Token`. Documents are uploaded through the web form only. At most 20 applications per address per hour.",
  tags: ["recruitment"],
  auth: "none",
  params: idParams,
  body: z
    .object({
      company_name: z.string().max(1000),
      uscc: z.string().max(64),
      legal_representative: z.string().max(500),
      contact_name: z.string().max(500),
      contact_phone: z.string().max(100),
      contact_email: z.string().max(1000),
      region: z.string().max(500),
      channels: z.array(z.string().max(50)).max(20).describe(`Any of ${SALES_CHANNELS.join(", ")}`),
      notes: z.string().max(10_000).optional(),
    })
    .strict(),
  response: createdApplicationSchema,
  successStatus: 201,
  errors: [409, 429],
});

export const getApplication = defineEndpoint({
  method: "GET",
  path: "/api/v1/applications/{id}",
  operationId: "getApplication",
  summary: "One application: for the applicant (X-Application-Token) or the core enterprise it was sent to",
  description:
    "Send `X-Application-Token: <access_token>` (no other credentials needed), or a core enterprise's bearer token or API " +
    "key. Anyone else — another organisation, a wrong token — gets 404.",
  tags: ["recruitment"],
  auth: "none",
  params: idParams,
  response: applicationSchema,
});

const decision = (operationId: string, path: `/api/v1/applications/{id}/${string}`, summary: string, body: z.AnyZodObject) =>
  defineEndpoint({
    method: "POST",
    path,
    operationId,
    summary,
    tags: ["recruitment"],
    auth: "required",
    orgKinds: ["core_enterprise"],
    action: "application.review",
    params: idParams,
    body,
    response: applicationSchema,
    errors: [409],
  });

export const startReview = decision("reviewApplication", "/api/v1/applications/{id}/review", "Start reviewing a submitted application", z.object({}).strict());
export const requestInfo = decision(
  "requestApplicationInfo",
  "/api/v1/applications/{id}/request-info",
  "Ask the applicant for information (they answer on their status page)",
  z.object({ message: z.string().max(5000).describe("What the applicant should provide") }).strict(),
);
export const approveApplication = defineEndpoint({
  method: "POST",
  path: "/api/v1/applications/{id}/approve",
  operationId: "approveApplication",
  summary: "Approve: create or link the dealer, add it to the network with the campaign's terms, invite its owner",
  description:
    "One transaction, under the campaign's lock: never more approvals than the quota (409 `quota`). When the campaign " +
    "asks a deposit the application becomes `awaiting_deposit` and the dealer link stays suspended until it is paid. " +
    "No email is sent: `invitation.url` is the link to pass on.",
  tags: ["recruitment"],
  auth: "required",
  orgKinds: ["core_enterprise"],
  action: "application.review",
  params: idParams,
  body: z.object({ note: z.string().max(5000).optional().describe("Shown to the applicant") }).strict(),
  response: applicationSchema,
  errors: [409],
});
export const rejectApplication = decision(
  "rejectApplication",
  "/api/v1/applications/{id}/reject",
  "Reject, with the reason the applicant will read",
  z.object({ reason: z.string().max(5000) }).strict(),
);

export const endpoints = [
  listCampaigns,
  createCampaign,
  getCampaign,
  publishCampaign,
  closeCampaign,
  submitApplication,
  getApplication,
  startReview,
  requestInfo,
  approveApplication,
  rejectApplication,
];
