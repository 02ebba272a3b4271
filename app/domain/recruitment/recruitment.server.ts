import { createHash, randomBytes } from "node:crypto";
import { sql, type Selectable, type Updateable } from "kysely";
import { z } from "zod";
import { inTransaction, type Db } from "../../../db";
import {
  APPLICATION_STATUSES,
  CAMPAIGN_STATUSES,
  SALES_CHANNELS,
  type ApplicationActorKind,
  type ApplicationEvent,
  type ApplicationStatus,
  type CampaignStatus,
  type DocumentContentType,
  type OrganizationKind,
  type RecruitmentApplicationsTable,
  type SalesChannel,
} from "../../../db/schema";
import { recordAudit, SYSTEM_ACTOR, type Actor, DomainError, isDomainError, decodeCursor, encodeCursor, normalizeUscc, usccProblem, isUuid, addDays, isBusinessDate, shanghaiDate } from "../shared";
import { parseWholeNumber, parseYuanToFen } from "../catalog";
import { createDealerLink, DEALER_LIMITS, transitionDealerLink } from "../dealers";
import { createInvitation, pendingInvitationLink, reissueInvitation, type Invitation, createOrganization } from "../identity";
import { ensureAccount, transfer, type Fen } from "../ledger";
import { requestNotification } from "../notifications";
import type { PurposeResult } from "../payments";
import { createPayment, type Payment, type PaymentsDeps } from "../payments";

/**
 * Online dealer recruitment (在线招募经销商).
 *
 * A core enterprise publishes a campaign (draft → published → closed) at a public page; companies
 * without an account apply to it and follow their application through a private link (a token
 * whose sha256 is stored). Review is a state machine, as data (APPLICATION_TRANSITIONS below):
 *
 *   submitted → under_review → (info_requested ↔ under_review) → approved | rejected
 *   any of the first three → withdrawn (by the applicant, before a decision)
 *   under_review --approve--> awaiting_deposit --deposit_paid--> approved   (campaign asks a deposit)
 *
 * Invariants (each held by code under a lock AND by a CHECK or index of 0007_recruitment):
 *  R1 a campaign never has more approvals than its quota: approve locks the campaign row first and
 *     counts under the lock; CHECK approved_count ≤ quota refuses any write past it;
 *  R2 applications are accepted only while the campaign is published, its closing date (Asia/Shanghai,
 *     inclusive) has not passed and places remain; the submit path reads the campaign FOR SHARE, so a
 *     concurrent close or last approval is seen;
 *  R3 one live application per company (USCC) and campaign (partial unique index);
 *  R4 approval is one transaction: the dealer organisation (created, or the existing one with that
 *     USCC linked), its dealer link with the campaign's tier/region/credit/terms (credit set in the
 *     ledger), the first user's invitation and the state change commit together or not at all;
 *  R5 a deposit is money: the e-Pay capture lands in the dealer's wallet, and the deposit handler
 *     moves it to the campaign's `dealer_deposits` account under one idempotency key, once;
 *  R6 every transition writes a timeline row (append-only) and an audit event in its transaction.
 *
 * Tenancy: reviewer functions take the acting core enterprise's id and filter by it, so another
 * tenant's campaign or application is `not_found`; applicant functions take the token, which finds
 * exactly one application.
 */

export { APPLICATION_STATUSES, CAMPAIGN_STATUSES, SALES_CHANNELS, type ApplicationStatus, type CampaignStatus, type SalesChannel };

export const RECRUITMENT_LIMITS = {
  titleChars: 100,
  descriptionChars: 4_000,
  requirementsChars: 4_000,
  regionsMax: 30,
  regionChars: 100,
  quotaMax: 10_000,
  /** ¥10,000,000: a larger deposit is a typo. */
  depositMaxFen: 1_000_000_000,
  creditLimitMaxFen: DEALER_LIMITS.maxCreditLimitFen,
  termsDaysMax: DEALER_LIMITS.maxTermsDays,
  /** A closing date at most this many days ahead. */
  closesWithinDays: 730,
  companyNameChars: 200,
  personChars: 50,
  phoneChars: 30,
  emailChars: 254,
  notesChars: 2_000,
  messageChars: 2_000,
  documentsPerUpload: 3,
  documentsPerApplication: 10,
  documentBytesMax: 5 * 1024 * 1024,
  fileNameChars: 200,
  /** Per sending address per hour: the public form is open to anyone. */
  applicationsPerIpPerHour: 20,
  pageSizeDefault: 20,
  pageSizeMax: 100,
  campaignsListMax: 200,
  timelineMax: 200,
} as const;

// ---------------------------------------------------------------------------------------------
// State machines, as data

export type CampaignEvent = "publish" | "close";

export const CAMPAIGN_TRANSITIONS: Readonly<Record<CampaignStatus, Readonly<Partial<Record<CampaignEvent, CampaignStatus>>>>> = {
  draft: { publish: "published", close: "closed" },
  published: { close: "closed" },
  closed: {},
};

export function campaignEvents(status: CampaignStatus): CampaignEvent[] {
  return Object.keys(CAMPAIGN_TRANSITIONS[status]) as CampaignEvent[];
}

/** What must hold for a transition to be the one taken (approve goes one of two ways). */
export type TransitionGuard = "deposit_required" | "no_deposit";

export interface ApplicationTransition {
  to: ApplicationStatus;
  /** Who may fire it. */
  by: ApplicationActorKind;
  /** Whether the event carries a reason / question / answer. */
  message: "required" | "optional" | "none";
  guard?: TransitionGuard;
}

type MachineRow = Readonly<Partial<Record<ApplicationEvent, readonly ApplicationTransition[]>>>;

const REJECT: readonly ApplicationTransition[] = [{ to: "rejected", by: "reviewer", message: "required" }];
const WITHDRAW: readonly ApplicationTransition[] = [{ to: "withdrawn", by: "applicant", message: "optional" }];

/** from → event → to (+ who, + reason rule, + guard). `submit` creates the row in `submitted`. */
export const APPLICATION_TRANSITIONS: Readonly<Record<ApplicationStatus, MachineRow>> = {
  submitted: {
    start_review: [{ to: "under_review", by: "reviewer", message: "none" }],
    reject: REJECT,
    withdraw: WITHDRAW,
  },
  under_review: {
    request_info: [{ to: "info_requested", by: "reviewer", message: "required" }],
    approve: [
      { to: "awaiting_deposit", by: "reviewer", message: "optional", guard: "deposit_required" },
      { to: "approved", by: "reviewer", message: "optional", guard: "no_deposit" },
    ],
    reject: REJECT,
    withdraw: WITHDRAW,
  },
  info_requested: {
    respond: [{ to: "under_review", by: "applicant", message: "required" }],
    reject: REJECT,
    withdraw: WITHDRAW,
  },
  awaiting_deposit: {
    deposit_paid: [{ to: "approved", by: "system", message: "none" }],
  },
  approved: {},
  rejected: {},
  withdrawn: {},
};

export interface TransitionFacts {
  depositFen: Fen;
}

function guardHolds(guard: TransitionGuard | undefined, facts: TransitionFacts): boolean {
  if (guard === undefined) return true;
  return guard === "deposit_required" ? facts.depositFen > 0 : facts.depositFen === 0;
}

/** The transition an event takes from a status, given the facts its guards read; null = not allowed. */
export function transitionFor(status: ApplicationStatus, event: ApplicationEvent, facts: TransitionFacts): ApplicationTransition | null {
  return APPLICATION_TRANSITIONS[status][event]?.find((t) => guardHolds(t.guard, facts)) ?? null;
}

/** The events a party may fire now (for the buttons a page shows). */
export function applicationEvents(status: ApplicationStatus, by: ApplicationActorKind): ApplicationEvent[] {
  return (Object.entries(APPLICATION_TRANSITIONS[status]) as [ApplicationEvent, readonly ApplicationTransition[]][])
    .filter(([, ts]) => ts.some((t) => t.by === by))
    .map(([event]) => event);
}

/** Statuses in which a decision is still to come. */
export const OPEN_STATUSES: readonly ApplicationStatus[] = ["submitted", "under_review", "info_requested"];

// ---------------------------------------------------------------------------------------------
// Input schemas: messages are problem codes (shown as `recruitment.problem.<code>`), so the page in
// either language and the API render the same refusal.

// Prose and names keep the characters typed (a Chinese text's full-width ，（） are not errors);
// codes, phone numbers, emails and region lists are NFKC-normalised, so full-width digits and
// letters typed with a Chinese input method still match.
const nfkc = (value: string) => value.normalize("NFKC").trim();
const clean = (value: string) => value.replace(/\r\n?/g, "\n").trim();

const requiredText = (max: number) =>
  z
    .string({ required_error: "required", invalid_type_error: "required" })
    .transform(clean)
    .pipe(z.string().min(1, "required").max(max, "too_long"));

const identifierText = (max: number) =>
  z
    .string({ required_error: "required", invalid_type_error: "required" })
    .transform(nfkc)
    .pipe(z.string().min(1, "required").max(max, "too_long"));

const optionalText = (max: number) =>
  z
    .string({ invalid_type_error: "required" })
    .optional()
    .transform((v) => (v === undefined ? "" : clean(v)))
    .pipe(z.string().max(max, "too_long"));

const wholeNumber = (min: number, max: number) =>
  z.number({ required_error: "required", invalid_type_error: "whole_number" }).int("whole_number").min(min, "out_of_range").max(max, "out_of_range");

/** Splits the regions as typed: one per line, or separated by commas, 、 or semicolons. */
export function splitRegions(text: string): string[] {
  return text
    .normalize("NFKC")
    .split(/[\n,;、]+/)
    .map((r) => r.trim())
    .filter(Boolean);
}

const regionsSchema = z
  .array(z.string({ invalid_type_error: "required" }), { required_error: "required", invalid_type_error: "required" })
  .transform((list) => [...new Set(list.map(nfkc).filter(Boolean))])
  .pipe(
    z
      .array(z.string().max(RECRUITMENT_LIMITS.regionChars, "too_long"))
      .min(1, "required")
      .max(RECRUITMENT_LIMITS.regionsMax, "too_many"),
  );

const businessDate = z
  .string({ required_error: "required", invalid_type_error: "date_format" })
  .trim()
  .min(1, "required")
  .refine(isBusinessDate, "date_format");

const uuidOrNull = z
  .string({ invalid_type_error: "unknown_tier" })
  .nullable()
  .optional()
  .transform((v) => (v === undefined || v === "" ? null : v))
  .refine((v) => v === null || isUuid(v), "unknown_tier");

/** The campaign as the model and the API take it: money in fen. */
export const campaignInputSchema = z.object({
  title: requiredText(RECRUITMENT_LIMITS.titleChars),
  description: optionalText(RECRUITMENT_LIMITS.descriptionChars),
  requirements: optionalText(RECRUITMENT_LIMITS.requirementsChars),
  regions: regionsSchema,
  quota: wholeNumber(1, RECRUITMENT_LIMITS.quotaMax),
  depositFen: wholeNumber(0, RECRUITMENT_LIMITS.depositMaxFen),
  closesOn: businessDate,
  tierId: uuidOrNull,
  creditLimitFen: wholeNumber(0, RECRUITMENT_LIMITS.creditLimitMaxFen),
  paymentTermsDays: wholeNumber(0, RECRUITMENT_LIMITS.termsDaysMax),
});

export type CampaignInput = z.input<typeof campaignInputSchema>;
export type CheckedCampaignInput = z.output<typeof campaignInputSchema>;

const formText = z.string({ required_error: "required", invalid_type_error: "required" });

const formWhole = (min: number, max: number) =>
  formText.trim().min(1, "required").transform((raw, ctx) => {
    const n = parseWholeNumber(raw);
    if (n === null || n < min || n > max) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: n === null ? "whole_number" : "out_of_range" });
      return z.NEVER;
    }
    return n;
  });

const formYuan = (max: Fen) =>
  z
    .string({ invalid_type_error: "money_format" })
    .optional()
    .transform((raw, ctx) => {
      const text = (raw ?? "").trim();
      if (!text) return 0;
      const fen = parseYuanToFen(text);
      if (fen === null || fen > max) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: fen === null ? "money_format" : "out_of_range" });
        return z.NEVER;
      }
      return fen;
    });

/**
 * The campaign form: every value a string as the browser sends it; money in yuan, regions one per
 * line. Produces the same input as campaignInputSchema takes.
 */
export const campaignFormSchema = z.object({
  title: requiredText(RECRUITMENT_LIMITS.titleChars),
  description: optionalText(RECRUITMENT_LIMITS.descriptionChars),
  requirements: optionalText(RECRUITMENT_LIMITS.requirementsChars),
  regions: formText.transform(splitRegions).pipe(regionsSchema),
  quota: formWhole(1, RECRUITMENT_LIMITS.quotaMax),
  depositYuan: formYuan(RECRUITMENT_LIMITS.depositMaxFen),
  closesOn: businessDate,
  tierId: uuidOrNull,
  creditLimitYuan: formYuan(RECRUITMENT_LIMITS.creditLimitMaxFen),
  paymentTermsDays: formWhole(0, RECRUITMENT_LIMITS.termsDaysMax),
});

export const CAMPAIGN_FORM_FIELDS = [
  "title",
  "description",
  "requirements",
  "regions",
  "quota",
  "depositYuan",
  "closesOn",
  "tierId",
  "creditLimitYuan",
  "paymentTermsDays",
] as const;

/** Model field → form field, for errors the model raises after the form parsed. */
const CAMPAIGN_FORM_FIELD: Record<string, string> = { depositFen: "depositYuan", creditLimitFen: "creditLimitYuan" };

export function campaignFieldForForm(field: string): string {
  return CAMPAIGN_FORM_FIELD[field] ?? field;
}

/** Form values → campaign input, or field problems (form field names). */
export function parseCampaignForm(values: Record<string, string>): { ok: true; input: CampaignInput } | { ok: false; fieldErrors: Record<string, string> } {
  const parsed = campaignFormSchema.safeParse(values);
  if (!parsed.success) return { ok: false, fieldErrors: issuesToFields(parsed.error) };
  const d = parsed.data;
  const input: CampaignInput = {
    title: d.title,
    description: d.description,
    requirements: d.requirements,
    regions: d.regions,
    quota: d.quota,
    depositFen: d.depositYuan,
    closesOn: d.closesOn,
    tierId: d.tierId,
    creditLimitFen: d.creditLimitYuan,
    paymentTermsDays: d.paymentTermsDays,
  };
  // Run the model's schema too, so the form shows every problem at once, under form names.
  const checked = campaignInputSchema.safeParse(input);
  if (!checked.success) {
    const fieldErrors: Record<string, string> = {};
    for (const [field, code] of Object.entries(issuesToFields(checked.error))) fieldErrors[campaignFieldForForm(field)] ??= code;
    return { ok: false, fieldErrors };
  }
  return { ok: true, input };
}

const PHONE = /^(?:(?:\+?86)?1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(?:-\d{1,6})?)$/;

/** The application as the page and the API send it. */
export const applicationInputSchema = z.object({
  companyName: requiredText(RECRUITMENT_LIMITS.companyNameChars),
  uscc: z
    .string({ required_error: "required", invalid_type_error: "required" })
    .transform((v) => normalizeUscc(v.normalize("NFKC")))
    .superRefine((code, ctx) => {
      if (!code) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: "required" });
        return;
      }
      const problem = usccProblem(code);
      if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `uscc_${problem}` });
    }),
  legalRepresentative: requiredText(RECRUITMENT_LIMITS.personChars),
  contactName: requiredText(RECRUITMENT_LIMITS.personChars),
  contactPhone: identifierText(RECRUITMENT_LIMITS.phoneChars)
    .transform((v) => v.replace(/[\s()]/g, ""))
    .refine((v) => PHONE.test(v), "phone"),
  contactEmail: identifierText(RECRUITMENT_LIMITS.emailChars).pipe(z.string().email("email")),
  region: identifierText(RECRUITMENT_LIMITS.regionChars),
  channels: z
    .array(z.enum(SALES_CHANNELS, { errorMap: () => ({ message: "unknown_channel" }) }), {
      required_error: "channels_required",
      invalid_type_error: "channels_required",
    })
    .max(SALES_CHANNELS.length * 2, "too_many")
    .transform((list) => [...new Set(list)])
    .pipe(z.array(z.string()).min(1, "channels_required")),
  notes: optionalText(RECRUITMENT_LIMITS.notesChars),
});

export type ApplicationInput = z.input<typeof applicationInputSchema>;
export type CheckedApplicationInput = z.output<typeof applicationInputSchema>;

export const APPLICATION_FORM_FIELDS = [
  "companyName",
  "uscc",
  "legalRepresentative",
  "contactName",
  "contactPhone",
  "contactEmail",
  "region",
  "notes",
] as const;

/** First problem per field; the path's first segment names the field. */
export function issuesToFields(error: z.ZodError): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) {
    if (issue.code === z.ZodIssueCode.unrecognized_keys) {
      for (const key of issue.keys) fields[key] ??= "unknown_field";
      continue;
    }
    const field = issue.path.length ? String(issue.path[0]) : "body";
    fields[field] ??= issue.message;
  }
  return fields;
}

function validation(fields: Record<string, string>, what = "input"): DomainError {
  const list = Object.entries(fields)
    .map(([f, c]) => `${f}: ${c}`)
    .join(", ");
  return new DomainError("validation", `The ${what} is not valid (${list})`, fields);
}

function parseWith<S extends z.ZodTypeAny>(schema: S, input: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw validation(issuesToFields(parsed.error), what);
  return parsed.data;
}

const messageSchema = optionalText(RECRUITMENT_LIMITS.messageChars);

// ---------------------------------------------------------------------------------------------
// Time


// ---------------------------------------------------------------------------------------------
// Views

export interface Campaign {
  id: string;
  coreEnterpriseId: string;
  title: string;
  description: string;
  requirements: string;
  regions: string[];
  quota: number;
  approvedCount: number;
  depositFen: Fen;
  closesOn: string;
  tierId: string | null;
  tierName: string | null;
  creditLimitFen: Fen;
  paymentTermsDays: number;
  status: CampaignStatus;
  createdAt: Date;
  updatedAt: Date;
  publishedAt: Date | null;
  closedAt: Date | null;
}

/** Why a campaign does not take applications now (null: it does). */
export type NotAccepting = "draft" | "closed" | "past_closing" | "full";

export function notAccepting(campaign: Pick<Campaign, "status" | "closesOn" | "approvedCount" | "quota">, now: Date): NotAccepting | null {
  if (campaign.status === "draft") return "draft";
  if (campaign.status === "closed") return "closed";
  if (shanghaiDate(now) > campaign.closesOn) return "past_closing";
  if (campaign.approvedCount >= campaign.quota) return "full";
  return null;
}

function campaignQuery(db: Db) {
  return db
    .selectFrom("recruitment_campaigns as c")
    .leftJoin("dealer_tiers as t", "t.id", "c.tier_id")
    .select([
      "c.id",
      "c.core_enterprise_id",
      "c.title",
      "c.description",
      "c.requirements",
      "c.regions",
      "c.quota",
      "c.approved_count",
      "c.deposit_fen",
      sql<string>`to_char(c.closes_on, 'YYYY-MM-DD')`.as("closes_on"),
      "c.tier_id",
      "t.name as tier_name",
      "c.credit_limit_fen",
      "c.payment_terms_days",
      "c.status",
      "c.created_at",
      "c.updated_at",
      "c.published_at",
      "c.closed_at",
    ]);
}

type CampaignRow = Awaited<ReturnType<ReturnType<typeof campaignQuery>["executeTakeFirstOrThrow"]>>;

function toCampaign(r: CampaignRow): Campaign {
  return {
    id: r.id,
    coreEnterpriseId: r.core_enterprise_id,
    title: r.title,
    description: r.description,
    requirements: r.requirements,
    regions: r.regions,
    quota: r.quota,
    approvedCount: r.approved_count,
    depositFen: r.deposit_fen,
    closesOn: r.closes_on,
    tierId: r.tier_id,
    tierName: r.tier_name,
    creditLimitFen: r.credit_limit_fen,
    paymentTermsDays: r.payment_terms_days,
    status: r.status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    publishedAt: r.published_at,
    closedAt: r.closed_at,
  };
}

const campaignNotFound = () => new DomainError("not_found", "Campaign not found");
const applicationNotFound = () => new DomainError("not_found", "Application not found");

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const e = error as { code?: string; constraint?: string; message?: string };
  return e?.code === "23505" && (e.constraint === constraint || (e.message ?? "").includes(constraint));
}

// ---------------------------------------------------------------------------------------------
// Campaigns: the core enterprise's side

async function assertTier(db: Db, coreEnterpriseId: string, tierId: string | null): Promise<void> {
  if (tierId === null) return;
  const tier = await db
    .selectFrom("dealer_tiers")
    .select("id")
    .where("id", "=", tierId)
    .where("core_enterprise_id", "=", coreEnterpriseId)
    .executeTakeFirst();
  if (!tier) throw new DomainError("validation", "Choose one of your dealer tiers", { tierId: "unknown_tier" });
}

function checkClosingDate(closesOn: string, now: Date): void {
  const today = shanghaiDate(now);
  if (closesOn < today) throw new DomainError("validation", "The closing date has passed", { closesOn: "date_past" });
  if (closesOn > addDays(today, RECRUITMENT_LIMITS.closesWithinDays)) {
    throw new DomainError("validation", "The closing date is too far ahead", { closesOn: "out_of_range" });
  }
}

function auditCampaign(c: CheckedCampaignInput | Campaign) {
  return {
    title: c.title,
    regions: c.regions,
    quota: c.quota,
    deposit_fen: c.depositFen,
    closes_on: c.closesOn,
    tier_id: c.tierId,
    credit_limit_fen: c.creditLimitFen,
    payment_terms_days: c.paymentTermsDays,
  };
}

export async function createCampaign(db: Db, actor: Actor, coreEnterpriseId: string, raw: CampaignInput, options: { now: Date }): Promise<Campaign> {
  const input = parseWith(campaignInputSchema, raw, "campaign");
  checkClosingDate(input.closesOn, options.now);
  return inTransaction(db, async (trx) => {
    const org = await trx.selectFrom("organizations").select("kind").where("id", "=", coreEnterpriseId).executeTakeFirst();
    if (org?.kind !== "core_enterprise") throw new DomainError("forbidden", "Only a core enterprise recruits dealers");
    await assertTier(trx, coreEnterpriseId, input.tierId);
    const row = await trx
      .insertInto("recruitment_campaigns")
      .values({
        core_enterprise_id: coreEnterpriseId,
        title: input.title,
        description: input.description,
        requirements: input.requirements,
        regions: input.regions,
        quota: input.quota,
        deposit_fen: input.depositFen,
        closes_on: input.closesOn,
        tier_id: input.tierId,
        credit_limit_fen: input.creditLimitFen,
        payment_terms_days: input.paymentTermsDays,
        created_by_user_id: actor.userId,
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    await recordAudit(trx, actor, {
      action: "recruitment_campaign.created",
      entityType: "recruitment_campaign",
      entityId: row.id,
      organizationId: coreEnterpriseId,
      after: auditCampaign(input),
    });
    return getCampaign(trx, coreEnterpriseId, row.id);
  });
}

/** Fields fixed once a campaign is published: applicants applied on these terms. */
const TERMS_FIXED_AFTER_DRAFT = ["depositFen", "tierId", "creditLimitFen", "paymentTermsDays"] as const;

/**
 * Change a campaign. A draft changes freely; a published one keeps the terms applicants applied on
 * (deposit, tier, credit, payment terms) and may not lower its quota below the approvals made; a
 * closed one no longer changes.
 */
export async function updateCampaign(
  db: Db,
  actor: Actor,
  coreEnterpriseId: string,
  campaignId: string,
  raw: CampaignInput,
  options: { now: Date },
): Promise<Campaign> {
  const input = parseWith(campaignInputSchema, raw, "campaign");
  return inTransaction(db, async (trx) => {
    const before = await lockCampaign(trx, coreEnterpriseId, campaignId);
    if (before.status === "closed") throw new DomainError("invalid_state", "A closed campaign no longer changes", { status: "closed" });
    if (before.status === "published") {
      const fields: Record<string, string> = {};
      for (const field of TERMS_FIXED_AFTER_DRAFT) {
        if (input[field] !== before[field]) fields[field] = "fixed_after_publish";
      }
      if (Object.keys(fields).length) {
        throw new DomainError("invalid_state", "Deposit, tier, credit limit and payment terms are fixed once a campaign is published", fields);
      }
    }
    if (input.quota < before.approvedCount) {
      throw new DomainError("validation", `${before.approvedCount} applications are already approved`, { quota: "below_approved" });
    }
    if (input.closesOn !== before.closesOn) checkClosingDate(input.closesOn, options.now);
    await assertTier(trx, coreEnterpriseId, input.tierId);
    await trx
      .updateTable("recruitment_campaigns")
      .set({
        title: input.title,
        description: input.description,
        requirements: input.requirements,
        regions: input.regions,
        quota: input.quota,
        deposit_fen: input.depositFen,
        closes_on: input.closesOn,
        tier_id: input.tierId,
        credit_limit_fen: input.creditLimitFen,
        payment_terms_days: input.paymentTermsDays,
        updated_at: sql`now()`,
      })
      .where("id", "=", before.id)
      .where("core_enterprise_id", "=", coreEnterpriseId)
      .execute();
    await recordAudit(trx, actor, {
      action: "recruitment_campaign.updated",
      entityType: "recruitment_campaign",
      entityId: before.id,
      organizationId: coreEnterpriseId,
      before: auditCampaign(before),
      after: auditCampaign(input),
    });
    return getCampaign(trx, coreEnterpriseId, before.id);
  });
}

/** Publish or close, by the transition table; a campaign is published with a closing date ahead. */
export async function transitionCampaign(
  db: Db,
  actor: Actor,
  coreEnterpriseId: string,
  campaignId: string,
  event: CampaignEvent,
  options: { now: Date },
): Promise<Campaign> {
  return inTransaction(db, async (trx) => {
    const before = await lockCampaign(trx, coreEnterpriseId, campaignId);
    const to = CAMPAIGN_TRANSITIONS[before.status][event];
    if (!to) throw new DomainError("invalid_state", `A ${before.status} campaign cannot be ${event === "publish" ? "published" : "closed"}`, { status: "invalid_transition" });
    if (event === "publish") checkClosingDate(before.closesOn, options.now);
    await trx
      .updateTable("recruitment_campaigns")
      .set({
        status: to,
        updated_at: sql`now()`,
        ...(to === "published" ? { published_at: options.now } : {}),
        ...(to === "closed" ? { closed_at: options.now } : {}),
      })
      .where("id", "=", before.id)
      .where("core_enterprise_id", "=", coreEnterpriseId)
      .execute();
    await recordAudit(trx, actor, {
      action: `recruitment_campaign.${to}`,
      entityType: "recruitment_campaign",
      entityId: before.id,
      organizationId: coreEnterpriseId,
      before: { status: before.status },
      after: { status: to },
    });
    return getCampaign(trx, coreEnterpriseId, before.id);
  });
}

async function lockCampaign(trx: Db, coreEnterpriseId: string, campaignId: string): Promise<Campaign> {
  if (!isUuid(campaignId)) throw campaignNotFound();
  const locked = await trx
    .selectFrom("recruitment_campaigns")
    .select("id")
    .where("id", "=", campaignId)
    .where("core_enterprise_id", "=", coreEnterpriseId)
    .forUpdate()
    .executeTakeFirst();
  if (!locked) throw campaignNotFound();
  return getCampaign(trx, coreEnterpriseId, campaignId);
}

/** One campaign of this core enterprise; another tenant's id is not found. */
export async function getCampaign(db: Db, coreEnterpriseId: string, campaignId: string): Promise<Campaign> {
  if (!isUuid(campaignId)) throw campaignNotFound();
  const row = await campaignQuery(db).where("c.id", "=", campaignId).where("c.core_enterprise_id", "=", coreEnterpriseId).executeTakeFirst();
  if (!row) throw campaignNotFound();
  return toCampaign(row);
}

export interface CampaignListItem extends Campaign {
  openApplications: number;
  totalApplications: number;
}

/** The core enterprise's campaigns, newest first (at most 200: campaigns are few). */
export async function listCampaigns(db: Db, coreEnterpriseId: string, options: { status?: CampaignStatus | null } = {}): Promise<CampaignListItem[]> {
  let query = campaignQuery(db)
    .select((eb) => [
      eb
        .selectFrom("recruitment_applications as a")
        .select(eb.fn.countAll<number>().as("n"))
        .whereRef("a.campaign_id", "=", "c.id")
        .where("a.status", "in", OPEN_STATUSES)
        .as("open_count"),
      eb.selectFrom("recruitment_applications as a").select(eb.fn.countAll<number>().as("n")).whereRef("a.campaign_id", "=", "c.id").as("total_count"),
    ])
    .where("c.core_enterprise_id", "=", coreEnterpriseId);
  if (options.status) query = query.where("c.status", "=", options.status);
  const rows = await query.orderBy("c.created_at", "desc").orderBy("c.id", "desc").limit(RECRUITMENT_LIMITS.campaignsListMax).execute();
  return rows.map((r) => ({ ...toCampaign(r), openApplications: Number(r.open_count ?? 0), totalApplications: Number(r.total_count ?? 0) }));
}

/** The same list in keyset pages, newest first (the API's `limit` / `after`). */
export async function listCampaignsPage(
  db: Db,
  coreEnterpriseId: string,
  options: { status?: CampaignStatus | null; after?: string | null; limit?: number } = {},
): Promise<{ items: Campaign[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? RECRUITMENT_LIMITS.pageSizeDefault), 1), RECRUITMENT_LIMITS.pageSizeMax);
  let query = campaignQuery(db).where("c.core_enterprise_id", "=", coreEnterpriseId);
  if (options.status) query = query.where("c.status", "=", options.status);
  if (options.after) {
    const [at, id] = decodeCursor(options.after, ["timestamp", "uuid"])!;
    query = query.where(sql<boolean>`(c.created_at, c.id) < (${at}::timestamptz, ${id}::uuid)`);
  }
  const rows = await query.orderBy("c.created_at", "desc").orderBy("c.id", "desc").limit(limit + 1).execute();
  const page = rows.slice(0, limit).map(toCampaign);
  const last = page[page.length - 1];
  return { items: page, nextCursor: rows.length > limit && last ? encodeCursor([last.createdAt, last.id]) : null };
}

/** Applications per status for one campaign. */
export async function countApplicationsByStatus(db: Db, coreEnterpriseId: string, campaignId: string): Promise<Record<ApplicationStatus, number>> {
  const counts = Object.fromEntries(APPLICATION_STATUSES.map((s) => [s, 0])) as Record<ApplicationStatus, number>;
  const rows = await db
    .selectFrom("recruitment_applications")
    .select(["status", (eb) => eb.fn.countAll<number>().as("n")])
    .where("campaign_id", "=", campaignId)
    .where("core_enterprise_id", "=", coreEnterpriseId)
    .groupBy("status")
    .execute();
  for (const r of rows) counts[r.status] = Number(r.n);
  return counts;
}

// ---------------------------------------------------------------------------------------------
// Campaigns: the public side

export interface PublicCampaign {
  id: string;
  coreEnterpriseName: string;
  coreEnterpriseNameEn: string | null;
  title: string;
  description: string;
  requirements: string;
  regions: string[];
  quota: number;
  placesLeft: number;
  depositFen: Fen;
  closesOn: string;
  status: CampaignStatus;
  notAccepting: NotAccepting | null;
}

/** A published or closed campaign, for anyone; a draft (or no such id) is not found. */
export async function getPublicCampaign(db: Db, campaignId: string, now: Date): Promise<PublicCampaign> {
  if (!isUuid(campaignId)) throw campaignNotFound();
  const row = await campaignQuery(db)
    .innerJoin("organizations as o", "o.id", "c.core_enterprise_id")
    .select(["o.name as core_name", "o.name_en as core_name_en"])
    .where("c.id", "=", campaignId)
    .where("c.status", "<>", "draft")
    .executeTakeFirst();
  if (!row) throw campaignNotFound();
  const c = toCampaign(row);
  return {
    id: c.id,
    coreEnterpriseName: row.core_name,
    coreEnterpriseNameEn: row.core_name_en,
    title: c.title,
    description: c.description,
    requirements: c.requirements,
    regions: c.regions,
    quota: c.quota,
    placesLeft: Math.max(0, c.quota - c.approvedCount),
    depositFen: c.depositFen,
    closesOn: c.closesOn,
    status: c.status,
    notAccepting: notAccepting(c, now),
  };
}

// ---------------------------------------------------------------------------------------------
// Documents

export interface UploadedDocument {
  fileName: string;
  bytes: Uint8Array;
}

const SIGNATURES: [DocumentContentType, number[]][] = [
  ["application/pdf", [0x25, 0x50, 0x44, 0x46, 0x2d]],
  ["image/png", [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  ["image/jpeg", [0xff, 0xd8, 0xff]],
];

/** What a file is, by its first bytes (the browser's type and the name's extension are not trusted). */
export function sniffDocumentType(bytes: Uint8Array): DocumentContentType | null {
  for (const [type, signature] of SIGNATURES) {
    if (bytes.length >= signature.length && signature.every((b, i) => bytes[i] === b)) return type;
  }
  return null;
}

/** A file name safe to store and to put in a download header: no paths, no control characters. */
export function cleanFileName(raw: string): string {
  const base = raw.normalize("NFKC").split(/[/\\]/).pop() ?? "";
  const cleaned = [...base]
    .filter((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f && c !== '"')
    .join("")
    .trim();
  if (!cleaned) return "document";
  if (cleaned.length <= RECRUITMENT_LIMITS.fileNameChars) return cleaned;
  const dot = cleaned.lastIndexOf(".");
  const ext = dot > 0 && cleaned.length - dot <= 10 ? cleaned.slice(dot) : "";
  return cleaned.slice(0, RECRUITMENT_LIMITS.fileNameChars - ext.length) + ext;
}

function checkDocuments(documents: readonly UploadedDocument[]): { fileName: string; contentType: DocumentContentType; bytes: Uint8Array }[] {
  if (documents.length > RECRUITMENT_LIMITS.documentsPerUpload) {
    throw new DomainError("validation", `At most ${RECRUITMENT_LIMITS.documentsPerUpload} files at a time`, { documents: "too_many_files" });
  }
  return documents.map((d) => {
    if (d.bytes.byteLength === 0) throw new DomainError("validation", "A file is empty", { documents: "file_empty" });
    if (d.bytes.byteLength > RECRUITMENT_LIMITS.documentBytesMax) {
      throw new DomainError("validation", "A file is larger than 5 MB", { documents: "file_too_large" });
    }
    const contentType = sniffDocumentType(d.bytes);
    if (!contentType) throw new DomainError("validation", "Only PDF, JPG and PNG files are accepted", { documents: "file_type" });
    return { fileName: cleanFileName(d.fileName), contentType, bytes: d.bytes };
  });
}

async function storeDocuments(
  trx: Db,
  target: { applicationId: string; coreEnterpriseId: string; eventId: number },
  documents: ReturnType<typeof checkDocuments>,
): Promise<void> {
  if (documents.length === 0) return;
  const existing = await trx
    .selectFrom("recruitment_documents")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("application_id", "=", target.applicationId)
    .executeTakeFirstOrThrow();
  if (Number(existing.n) + documents.length > RECRUITMENT_LIMITS.documentsPerApplication) {
    throw new DomainError("validation", `An application holds at most ${RECRUITMENT_LIMITS.documentsPerApplication} files`, { documents: "too_many_files" });
  }
  for (const d of documents) {
    await trx
      .insertInto("recruitment_documents")
      .values({
        application_id: target.applicationId,
        core_enterprise_id: target.coreEnterpriseId,
        event_id: target.eventId,
        file_name: d.fileName,
        content_type: d.contentType,
        size_bytes: d.bytes.byteLength,
        sha256: createHash("sha256").update(d.bytes).digest("hex"),
        content: Buffer.from(d.bytes.buffer, d.bytes.byteOffset, d.bytes.byteLength),
      })
      .execute();
  }
}

export interface DocumentMeta {
  id: string;
  fileName: string;
  contentType: DocumentContentType;
  sizeBytes: number;
  eventId: number | null;
  createdAt: Date;
}

async function listDocuments(db: Db, applicationId: string): Promise<DocumentMeta[]> {
  const rows = await db
    .selectFrom("recruitment_documents")
    .select(["id", "file_name", "content_type", "size_bytes", "event_id", "created_at"])
    .where("application_id", "=", applicationId)
    .orderBy("created_at")
    .orderBy("id")
    .limit(RECRUITMENT_LIMITS.documentsPerApplication)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    fileName: r.file_name,
    contentType: r.content_type,
    sizeBytes: r.size_bytes,
    eventId: r.event_id === null ? null : Number(r.event_id),
    createdAt: r.created_at,
  }));
}

/** A document's bytes, for the reviewing core enterprise only, within one application or campaign. */
export async function getDocument(
  db: Db,
  coreEnterpriseId: string,
  documentId: string,
  scope: { applicationId: string } | { campaignId: string },
): Promise<{ fileName: string; contentType: DocumentContentType; content: Uint8Array }> {
  const scopeId = "applicationId" in scope ? scope.applicationId : scope.campaignId;
  if (!isUuid(documentId) || !isUuid(scopeId)) throw new DomainError("not_found", "Document not found");
  let query = db
    .selectFrom("recruitment_documents as d")
    .innerJoin("recruitment_applications as a", "a.id", "d.application_id")
    .select(["d.file_name", "d.content_type", "d.content"])
    .where("d.id", "=", documentId)
    .where("d.core_enterprise_id", "=", coreEnterpriseId);
  query = "applicationId" in scope ? query.where("d.application_id", "=", scope.applicationId) : query.where("a.campaign_id", "=", scope.campaignId);
  const row = await query.executeTakeFirst();
  if (!row) throw new DomainError("not_found", "Document not found");
  return { fileName: row.file_name, contentType: row.content_type, content: row.content };
}

// ---------------------------------------------------------------------------------------------
// Applications: views

type ApplicationRow = Selectable<RecruitmentApplicationsTable>;

export interface TimelineEntry {
  id: number;
  event: ApplicationEvent;
  fromStatus: ApplicationStatus | null;
  toStatus: ApplicationStatus;
  actorKind: ApplicationActorKind;
  /** The reviewer's display name; null for the applicant, the system, and on the applicant's view. */
  actorName: string | null;
  message: string;
  at: Date;
}

export interface Application {
  id: string;
  campaignId: string;
  coreEnterpriseId: string;
  status: ApplicationStatus;
  companyName: string;
  uscc: string;
  legalRepresentative: string;
  contactName: string;
  contactPhone: string;
  contactEmail: string;
  region: string;
  channels: SalesChannel[];
  notes: string;
  dealerOrganizationId: string | null;
  dealerLinkId: string | null;
  invitationId: string | null;
  depositFen: Fen;
  depositPaidAt: Date | null;
  depositPaymentId: string | null;
  decidedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

function isSalesChannel(value: string): value is SalesChannel {
  return (SALES_CHANNELS as readonly string[]).includes(value);
}

function toApplication(r: ApplicationRow): Application {
  return {
    id: r.id,
    campaignId: r.campaign_id,
    coreEnterpriseId: r.core_enterprise_id,
    status: r.status,
    companyName: r.company_name,
    uscc: r.uscc,
    legalRepresentative: r.legal_representative,
    contactName: r.contact_name,
    contactPhone: r.contact_phone,
    contactEmail: r.contact_email,
    region: r.region,
    channels: r.channels.filter(isSalesChannel),
    notes: r.notes,
    dealerOrganizationId: r.dealer_organization_id,
    dealerLinkId: r.dealer_link_id,
    invitationId: r.invitation_id,
    depositFen: r.deposit_fen,
    depositPaidAt: r.deposit_paid_at,
    depositPaymentId: r.deposit_payment_id,
    decidedAt: r.decided_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

async function listTimeline(db: Db, applicationId: string, withNames: boolean): Promise<TimelineEntry[]> {
  const rows = await db
    .selectFrom("recruitment_application_events as e")
    .leftJoin("users as u", "u.id", "e.actor_user_id")
    .select(["e.id", "e.event", "e.from_status", "e.to_status", "e.actor_kind", "u.display_name", "e.message", "e.at"])
    .where("e.application_id", "=", applicationId)
    .orderBy("e.id")
    .limit(RECRUITMENT_LIMITS.timelineMax)
    .execute();
  return rows.map((r) => ({
    id: Number(r.id),
    event: r.event,
    fromStatus: r.from_status,
    toStatus: r.to_status,
    actorKind: r.actor_kind,
    actorName: withNames ? r.display_name : null,
    message: r.message,
    at: r.at,
  }));
}

export interface ExistingOrganization {
  id: string;
  name: string;
  kind: OrganizationKind;
  /** Already a dealer of this core enterprise: approval would be refused. */
  inNetwork: boolean;
  memberCount: number;
}

/** The organisation already registered with this USCC, as the reviewer needs to know before approving. */
async function existingOrganization(db: Db, coreEnterpriseId: string, uscc: string): Promise<ExistingOrganization | null> {
  const org = await db.selectFrom("organizations").select(["id", "name", "kind"]).where("uscc", "=", uscc).executeTakeFirst();
  if (!org) return null;
  const link = await db
    .selectFrom("dealer_links")
    .select("id")
    .where("core_enterprise_id", "=", coreEnterpriseId)
    .where("dealer_id", "=", org.id)
    .executeTakeFirst();
  const members = await db
    .selectFrom("memberships")
    .select((eb) => eb.fn.count<number>("user_id").distinct().as("n"))
    .where("organization_id", "=", org.id)
    .executeTakeFirstOrThrow();
  return { id: org.id, name: org.name, kind: org.kind, inNetwork: Boolean(link), memberCount: Number(members.n) };
}

export interface InvitationStatus {
  email: string;
  state: Invitation["state"];
  expiresAt: Date;
  /** `/invite/<token>` while pending; null otherwise. */
  path: string | null;
}

async function invitationStatus(db: Db, invitationId: string | null, serverSecret: string, now: Date): Promise<InvitationStatus | null> {
  if (!invitationId) return null;
  const { invitation, path } = await pendingInvitationLink(db, invitationId, serverSecret, now);
  return { email: invitation.email, state: invitation.state, expiresAt: invitation.expiresAt, path };
}

export interface ReviewView {
  application: Application;
  campaign: Campaign;
  timeline: TimelineEntry[];
  documents: DocumentMeta[];
  existingOrganization: ExistingOrganization | null;
  invitation: InvitationStatus | null;
  events: ApplicationEvent[];
}

async function findApplicationRow(db: Db, coreEnterpriseId: string, applicationId: string, campaignId?: string): Promise<ApplicationRow> {
  if (!isUuid(applicationId) || (campaignId !== undefined && !isUuid(campaignId))) throw applicationNotFound();
  let query = db.selectFrom("recruitment_applications").selectAll().where("id", "=", applicationId).where("core_enterprise_id", "=", coreEnterpriseId);
  if (campaignId !== undefined) query = query.where("campaign_id", "=", campaignId);
  const row = await query.executeTakeFirst();
  if (!row) throw applicationNotFound();
  return row;
}

/** One application with all the reviewer needs; another tenant's (or another campaign's) is not found. */
export async function getApplicationForReview(
  db: Db,
  coreEnterpriseId: string,
  applicationId: string,
  options: { campaignId?: string; serverSecret: string; now: Date },
): Promise<ReviewView> {
  const row = await findApplicationRow(db, coreEnterpriseId, applicationId, options.campaignId);
  const application = toApplication(row);
  const now = options.now;
  return {
    application,
    campaign: await getCampaign(db, coreEnterpriseId, row.campaign_id),
    timeline: await listTimeline(db, row.id, true),
    documents: await listDocuments(db, row.id),
    existingOrganization: OPEN_STATUSES.includes(row.status) ? await existingOrganization(db, coreEnterpriseId, row.uscc) : null,
    invitation: await invitationStatus(db, row.invitation_id, options.serverSecret, now),
    events: applicationEvents(row.status, "reviewer"),
  };
}

export interface ApplicationListItem {
  id: string;
  companyName: string;
  uscc: string;
  region: string;
  contactName: string;
  status: ApplicationStatus;
  createdAt: Date;
  updatedAt: Date;
}

/** Applications of one campaign, newest first, in keyset pages. */
export async function listApplications(
  db: Db,
  coreEnterpriseId: string,
  campaignId: string,
  options: { status?: ApplicationStatus | null; after?: string | null; limit?: number } = {},
): Promise<{ items: ApplicationListItem[]; nextCursor: string | null }> {
  await getCampaign(db, coreEnterpriseId, campaignId);
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? RECRUITMENT_LIMITS.pageSizeDefault), 1), RECRUITMENT_LIMITS.pageSizeMax);
  let query = db
    .selectFrom("recruitment_applications")
    .select(["id", "company_name", "uscc", "region", "contact_name", "status", "created_at", "updated_at"])
    .where("campaign_id", "=", campaignId)
    .where("core_enterprise_id", "=", coreEnterpriseId);
  if (options.status) query = query.where("status", "=", options.status);
  if (options.after) {
    const [at, id] = decodeCursor(options.after, ["timestamp", "uuid"])!;
    query = query.where(sql<boolean>`(created_at, id) < (${at}::timestamptz, ${id}::uuid)`);
  }
  const rows = await query.orderBy("created_at", "desc").orderBy("id", "desc").limit(limit + 1).execute();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({
      id: r.id,
      companyName: r.company_name,
      uscc: r.uscc,
      region: r.region,
      contactName: r.contact_name,
      status: r.status,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    })),
    nextCursor: rows.length > limit && last ? encodeCursor([last.created_at, last.id]) : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Applications: the applicant's side (by private link)

function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function isAccessTokenShape(token: string): boolean {
  return token.length === 43 && /^[A-Za-z0-9_-]+$/.test(token);
}

export function statusPath(campaignId: string, token: string): string {
  return `/join/${campaignId}/status/${token}`;
}

/** The application a private token opens, within one campaign (pages) or by its id (API). */
async function findByToken(db: Db, scope: string | { applicationId: string }, token: string, lock: boolean): Promise<ApplicationRow> {
  const scopeId = typeof scope === "string" ? scope : scope.applicationId;
  if (!isUuid(scopeId) || !isAccessTokenShape(token)) throw applicationNotFound();
  let query = db.selectFrom("recruitment_applications").selectAll().where("access_token_hash", "=", hashToken(token));
  query = typeof scope === "string" ? query.where("campaign_id", "=", scope) : query.where("id", "=", scope.applicationId);
  if (lock) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  if (!row) throw applicationNotFound();
  return row;
}

export interface ApplicantView {
  application: Application;
  campaign: PublicCampaign;
  timeline: TimelineEntry[];
  documents: Pick<DocumentMeta, "id" | "fileName" | "sizeBytes" | "createdAt">[];
  invitation: InvitationStatus | null;
  events: ApplicationEvent[];
  /** The latest info request, while one is open. */
  openQuestion: string | null;
}

/** What the private link shows: this application only. A wrong token is not found. */
export async function getApplicationByToken(
  db: Db,
  campaignId: string | { applicationId: string },
  token: string,
  options: { serverSecret: string; now: Date },
): Promise<ApplicantView> {
  const row = await findByToken(db, campaignId, token, false);
  const now = options.now;
  const timeline = await listTimeline(db, row.id, false);
  const lastQuestion = [...timeline].reverse().find((e) => e.event === "request_info");
  return {
    application: toApplication(row),
    campaign: await getPublicCampaign(db, row.campaign_id, now),
    timeline,
    documents: (await listDocuments(db, row.id)).map((d) => ({ id: d.id, fileName: d.fileName, sizeBytes: d.sizeBytes, createdAt: d.createdAt })),
    invitation: await invitationStatus(db, row.invitation_id, options.serverSecret, now),
    events: applicationEvents(row.status, "applicant"),
    openQuestion: row.status === "info_requested" ? (lastQuestion?.message ?? null) : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Transitions

interface FireInput {
  actor: Actor;
  actorKind: ApplicationActorKind;
  event: ApplicationEvent;
  message?: string;
  patch?: Updateable<RecruitmentApplicationsTable>;
  /** What the guards read; defaults to the row's own deposit. */
  facts?: TransitionFacts;
}

/**
 * Move a locked application by the table: refuses an event the table does not allow from here, or
 * by this party; checks the message rule; writes the row, its timeline entry and the audit event.
 */
async function fire(trx: Db, row: ApplicationRow, input: FireInput): Promise<{ row: ApplicationRow; eventId: number }> {
  const transition = transitionFor(row.status, input.event, input.facts ?? { depositFen: row.deposit_fen });
  if (!transition || transition.by !== input.actorKind) {
    throw new DomainError("invalid_state", `An application that is ${row.status.replace("_", " ")} cannot take "${input.event}"`, {
      status: "invalid_transition",
    });
  }
  const message = parseWith(messageSchema, input.message ?? "", "message");
  if (transition.message === "required" && !message) {
    throw new DomainError("validation", input.event === "reject" ? "Say why the application is rejected" : "Write a message", { message: "required" });
  }
  const stored = transition.message === "none" ? "" : message;
  const updated = await trx
    .updateTable("recruitment_applications")
    .set({ ...input.patch, status: transition.to, updated_at: sql`now()` })
    .where("id", "=", row.id)
    .where("status", "=", row.status)
    .returningAll()
    .executeTakeFirst();
  // The caller holds the row lock, so the status cannot have moved: a miss here is a bug.
  if (!updated) throw new Error(`recruitment: application ${row.id} changed under its lock`);
  const event = await trx
    .insertInto("recruitment_application_events")
    .values({
      application_id: row.id,
      core_enterprise_id: row.core_enterprise_id,
      event: input.event,
      from_status: row.status,
      to_status: transition.to,
      actor_kind: input.actorKind,
      actor_user_id: input.actor.userId,
      message: stored,
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  await recordAudit(trx, input.actor, {
    action: `recruitment_application.${input.event}`,
    entityType: "recruitment_application",
    entityId: row.id,
    organizationId: row.core_enterprise_id,
    before: { status: row.status },
    after: { status: transition.to, ...(stored ? { message: stored } : {}) },
  });
  return { row: updated, eventId: Number(event.id) };
}

async function lockForReview(trx: Db, coreEnterpriseId: string, applicationId: string): Promise<ApplicationRow> {
  if (!isUuid(applicationId)) throw applicationNotFound();
  const row = await trx
    .selectFrom("recruitment_applications")
    .selectAll()
    .where("id", "=", applicationId)
    .where("core_enterprise_id", "=", coreEnterpriseId)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw applicationNotFound();
  return row;
}

export interface SubmitInput {
  campaignId: string;
  /** An ApplicationInput as sent (a form's strings, an API body): validated here. */
  input: ApplicationInput | Record<string, unknown>;
  documents?: readonly UploadedDocument[];
  now: Date;
}

export interface SubmittedApplication {
  application: Application;
  /** The private link's token: returned once, stored only as its hash. */
  token: string;
  statusPath: string;
}

/** A company applies: R2 and R3 hold; the core enterprise is notified in the same transaction. */
export async function submitApplication(db: Db, actor: Actor, submit: SubmitInput): Promise<SubmittedApplication> {
  const input = parseWith(applicationInputSchema, submit.input, "application");
  const documents = checkDocuments(submit.documents ?? []);
  const now = submit.now;
  if (!isUuid(submit.campaignId)) throw campaignNotFound();
  const token = randomBytes(32).toString("base64url");
  return inTransaction(db, async (trx) => {
    // FOR SHARE: a concurrent close or last approval (FOR UPDATE) is waited for and then seen.
    const locked = await trx
      .selectFrom("recruitment_campaigns")
      .select("id")
      .where("id", "=", submit.campaignId)
      .where("status", "<>", "draft")
      .forShare()
      .executeTakeFirst();
    if (!locked) throw campaignNotFound();
    const campaign = await getPublicCampaign(trx, submit.campaignId, now);
    const why = campaign.notAccepting;
    if (why) {
      const text = { draft: "not open", closed: "closed", past_closing: "past its closing date", full: "full: every place is taken" }[why];
      throw new DomainError("invalid_state", `This campaign is ${text}`, { campaign: why });
    }
    if (!campaign.regions.includes(input.region)) {
      throw new DomainError("validation", "Choose one of the campaign's regions", { region: "region_unknown" });
    }
    if (actor.ip) {
      const recent = await trx
        .selectFrom("recruitment_applications")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("submitted_ip", "=", actor.ip)
        .where("created_at", ">", new Date(now.getTime() - 60 * 60 * 1000))
        .executeTakeFirstOrThrow();
      if (Number(recent.n) >= RECRUITMENT_LIMITS.applicationsPerIpPerHour) {
        throw new DomainError("rate_limited", "Too many applications from this address; try again in an hour");
      }
    }
    const core = await trx.selectFrom("recruitment_campaigns").select("core_enterprise_id").where("id", "=", campaign.id).executeTakeFirstOrThrow();
    let row: ApplicationRow;
    try {
      row = await trx
        .insertInto("recruitment_applications")
        .values({
          campaign_id: campaign.id,
          core_enterprise_id: core.core_enterprise_id,
          company_name: input.companyName,
          uscc: input.uscc,
          legal_representative: input.legalRepresentative,
          contact_name: input.contactName,
          contact_phone: input.contactPhone,
          contact_email: input.contactEmail,
          region: input.region,
          channels: input.channels,
          notes: input.notes,
          access_token_hash: hashToken(token),
          submitted_ip: actor.ip ?? null,
          // Stamped with the caller's clock: the per-IP hourly limit above counts against it.
          created_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (error) {
      if (isUniqueViolation(error, "recruitment_applications_live_uscc")) {
        throw new DomainError("conflict", "This company already has an open application to this campaign", { uscc: "already_applied" });
      }
      throw error;
    }
    const event = await trx
      .insertInto("recruitment_application_events")
      .values({
        application_id: row.id,
        core_enterprise_id: row.core_enterprise_id,
        event: "submit",
        from_status: null,
        to_status: "submitted",
        actor_kind: "applicant",
        actor_user_id: null,
        message: "",
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    await storeDocuments(trx, { applicationId: row.id, coreEnterpriseId: row.core_enterprise_id, eventId: Number(event.id) }, documents);
    await recordAudit(trx, actor, {
      action: "recruitment_application.submit",
      entityType: "recruitment_application",
      entityId: row.id,
      organizationId: row.core_enterprise_id,
      after: { campaign_id: campaign.id, company_name: row.company_name, uscc: row.uscc, region: row.region, documents: documents.length },
    });
    await requestNotification(trx, actor, {
      organizationId: row.core_enterprise_id,
      topic: "recruitment.application_submitted",
      params: { applicationId: row.id, campaignTitle: campaign.title, companyName: row.company_name },
      dedupeKey: `recruitment.application_submitted:${row.id}`,
    });
    return { application: toApplication(row), token, statusPath: statusPath(campaign.id, token) };
  });
}

/** The applicant answers an info request (with files if asked for): back to under review. */
export async function respondToInfoRequest(
  db: Db,
  actor: Actor,
  input: { campaignId: string; token: string; message: string; documents?: readonly UploadedDocument[] },
): Promise<Application> {
  const documents = checkDocuments(input.documents ?? []);
  return inTransaction(db, async (trx) => {
    const row = await findByToken(trx, input.campaignId, input.token, true);
    const { row: updated, eventId } = await fire(trx, row, { actor, actorKind: "applicant", event: "respond", message: input.message });
    await storeDocuments(trx, { applicationId: row.id, coreEnterpriseId: row.core_enterprise_id, eventId }, documents);
    return toApplication(updated);
  });
}

/** The applicant withdraws before a decision. */
export async function withdrawApplication(db: Db, actor: Actor, input: { campaignId: string; token: string; reason?: string }): Promise<Application> {
  return inTransaction(db, async (trx) => {
    const row = await findByToken(trx, input.campaignId, input.token, true);
    const { row: updated } = await fire(trx, row, { actor, actorKind: "applicant", event: "withdraw", message: input.reason });
    return toApplication(updated);
  });
}

export type ReviewEvent = "start_review" | "request_info" | "reject";

/** Start the review, ask for information, or reject (with a reason). */
export async function reviewApplication(
  db: Db,
  actor: Actor,
  coreEnterpriseId: string,
  applicationId: string,
  event: ReviewEvent,
  message: string,
  now: Date,
): Promise<Application> {
  if (!["start_review", "request_info", "reject"].includes(event)) {
    throw new DomainError("validation", `unknown review action ${String(event)}`, { event: "unknown" });
  }
  return inTransaction(db, async (trx) => {
    const row = await lockForReview(trx, coreEnterpriseId, applicationId);
    const patch: Updateable<RecruitmentApplicationsTable> =
      event === "reject" ? { decided_at: now, decided_by_user_id: actor.userId } : {};
    const { row: updated } = await fire(trx, row, { actor, actorKind: "reviewer", event, message, patch });
    return toApplication(updated);
  });
}

export interface ApproveOptions {
  note?: string;
  /** The server secret invitation tokens are derived from (config.sessionSecret). */
  serverSecret: string;
  now: Date;
}

export interface ApprovedApplication {
  application: Application;
  dealerOrganizationId: string;
  dealerLinkId: string;
  /** Whether approval made a new organisation (false: the existing one with that USCC was linked). */
  createdOrganization: boolean;
  /** `/invite/<token>` for the first user, or null when the organisation already had members. */
  invitationPath: string | null;
}

/** Suspension reason for a link waiting on its recruitment deposit (shown in the link's history). */
export const DEPOSIT_HOLD_REASON = "等待招募保证金 / awaiting the recruitment deposit";

/**
 * Approve (R1, R4): lock the campaign, then the application; count the place under the lock;
 * create or link the dealer organisation; create its dealer link with the campaign's terms (and
 * credit limit in the ledger); invite its first user; and, when the campaign asks a deposit, hold
 * the link suspended and wait for it. One transaction: any refusal writes nothing.
 */
export async function approveApplication(
  db: Db,
  actor: Actor,
  coreEnterpriseId: string,
  applicationId: string,
  options: ApproveOptions,
): Promise<ApprovedApplication> {
  if (!isUuid(applicationId)) throw applicationNotFound();
  return inTransaction(db, async (trx) => {
    // Lock order: campaign, then application (the same order everywhere, so no deadlock).
    const owner = await trx
      .selectFrom("recruitment_applications")
      .select("campaign_id")
      .where("id", "=", applicationId)
      .where("core_enterprise_id", "=", coreEnterpriseId)
      .executeTakeFirst();
    if (!owner) throw applicationNotFound();
    const campaign = await lockCampaign(trx, coreEnterpriseId, owner.campaign_id);
    const row = await lockForReview(trx, coreEnterpriseId, applicationId);
    if (!transitionFor(row.status, "approve", { depositFen: campaign.depositFen })) {
      throw new DomainError("invalid_state", `An application that is ${row.status.replace("_", " ")} cannot be approved`, { status: "invalid_transition" });
    }
    if (campaign.approvedCount >= campaign.quota) {
      throw new DomainError("conflict", `Every place of this campaign is taken (${campaign.quota})`, { quota: "quota_full" });
    }

    // The organisation: the one registered with this USCC, or a new dealer.
    const existing = await trx.selectFrom("organizations").select(["id", "kind"]).where("uscc", "=", row.uscc).executeTakeFirst();
    let dealerId: string;
    let createdOrganization = false;
    if (existing) {
      if (existing.kind !== "dealer") {
        throw new DomainError("validation", "This USCC belongs to an organisation that is not a dealer", { uscc: "registered_other_kind" });
      }
      dealerId = existing.id;
    } else {
      const org = await createOrganization(trx, actor, { kind: "dealer", name: row.company_name, uscc: row.uscc });
      dealerId = org.id;
      createdOrganization = true;
    }

    let linkId: string;
    try {
      const link = await createDealerLink(trx, actor, {
        coreEnterpriseId,
        dealerId,
        tierId: campaign.tierId,
        region: row.region,
        paymentTermsDays: campaign.paymentTermsDays,
        creditLimitFen: campaign.creditLimitFen,
      });
      linkId = link.id;
    } catch (error) {
      if (isDomainError(error) && error.code === "conflict") {
        throw new DomainError("conflict", "This company is already in your dealer network", { uscc: "already_in_network" });
      }
      throw error;
    }

    const depositFen = campaign.depositFen;
    if (depositFen > 0) {
      // No orders before the deposit is in: paying it reactivates the link (applyCapturedDepositPayment).
      await transitionDealerLink(trx, actor, coreEnterpriseId, linkId, "suspend", DEPOSIT_HOLD_REASON);
    }

    // The first user: only into an organisation nobody is in yet. Inviting the applicant's email into
    // an existing dealer with members would hand a public form's author someone else's company.
    let invitationId: string | null = null;
    let invitationPathValue: string | null = null;
    const members = await trx
      .selectFrom("memberships")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("organization_id", "=", dealerId)
      .executeTakeFirstOrThrow();
    if (Number(members.n) === 0) {
      const issued = await createInvitation(trx, actor, {
        organizationId: dealerId,
        email: row.contact_email,
        role: "owner",
        returnPath: depositFen > 0 ? `/join/${campaign.id}/deposit` : "/",
        serverSecret: options.serverSecret,
        now: options.now,
      });
      invitationId = issued.invitation.id;
      invitationPathValue = `/invite/${issued.token}`;
    }

    await trx
      .updateTable("recruitment_campaigns")
      .set({ approved_count: sql`approved_count + 1`, updated_at: sql`now()` })
      .where("id", "=", campaign.id)
      .execute();
    const { row: updated } = await fire(trx, row, {
      actor,
      actorKind: "reviewer",
      event: "approve",
      message: options.note,
      facts: { depositFen },
      patch: {
        dealer_organization_id: dealerId,
        dealer_link_id: linkId,
        invitation_id: invitationId,
        deposit_fen: depositFen,
        link_held_for_deposit: depositFen > 0,
        decided_at: options.now,
        decided_by_user_id: actor.userId,
      },
    });
    return {
      application: toApplication(updated),
      dealerOrganizationId: dealerId,
      dealerLinkId: linkId,
      createdOrganization,
      invitationPath: invitationPathValue,
    };
  });
}

/**
 * A new link for the first user's invitation of an approved application (the old one expired or
 * was lost). Scoped by the core enterprise that approved it; an accepted invitation stays accepted.
 */
export async function reissueApplicationInvitation(
  db: Db,
  actor: Actor,
  coreEnterpriseId: string,
  applicationId: string,
  options: { serverSecret: string; now: Date },
): Promise<{ invitationPath: string }> {
  const row = await findApplicationRow(db, coreEnterpriseId, applicationId);
  if (!row.invitation_id || !row.dealer_organization_id) {
    throw new DomainError("invalid_state", "This application has no invitation", { invitation: "none" });
  }
  const issued = await reissueInvitation(db, actor, {
    invitationId: row.invitation_id,
    organizationId: row.dealer_organization_id,
    serverSecret: options.serverSecret,
    now: options.now,
  });
  return { invitationPath: `/invite/${issued.token}` };
}

// ---------------------------------------------------------------------------------------------
// The deposit

export const DEPOSIT_REFERENCE_PREFIX = "recruitment_application:";

export function depositReference(applicationId: string): string {
  return `${DEPOSIT_REFERENCE_PREFIX}${applicationId}`;
}

/** The campaign's own account for the deposits it collected, owned by the core enterprise. */
export function depositAccountCode(campaignId: string): string {
  return `dealer_deposits:campaign:${campaignId}`;
}

export interface DealerDepositView {
  application: Application;
  campaign: PublicCampaign;
  /** The latest e-Pay payment for this deposit, if any. */
  payment: { id: string; status: Payment["status"]; fulfilled: boolean } | null;
}

/** The dealer's application to a campaign (the one approval made it a dealer by); else not found. */
export async function getDepositForDealer(db: Db, dealerOrganizationId: string, campaignId: string, now: Date): Promise<DealerDepositView> {
  if (!isUuid(campaignId)) throw applicationNotFound();
  const row = await db
    .selectFrom("recruitment_applications")
    .selectAll()
    .where("campaign_id", "=", campaignId)
    .where("dealer_organization_id", "=", dealerOrganizationId)
    .where("status", "in", ["awaiting_deposit", "approved"])
    .orderBy("decided_at", "desc")
    .executeTakeFirst();
  if (!row) throw applicationNotFound();
  const payment = await db
    .selectFrom("payments")
    .select(["id", "status", "fulfilled_at"])
    .where("payer_organization_id", "=", dealerOrganizationId)
    .where("purpose", "=", "deposit")
    .where("reference", "=", depositReference(row.id))
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .executeTakeFirst();
  return {
    application: toApplication(row),
    campaign: await getPublicCampaign(db, campaignId, now),
    payment: payment ? { id: payment.id, status: payment.status, fulfilled: payment.fulfilled_at !== null } : null,
  };
}

/**
 * Start (or resume) the e-Pay payment of a deposit, for a member of the dealer. Not in a
 * transaction: it calls the gateway. A pending payment is resumed (same key, same pay page); after
 * a failed one the next attempt gets a new key.
 */
export async function startDepositPayment(
  db: Db,
  actor: Actor,
  input: { dealerOrganizationId: string; campaignId: string; now: Date },
  deps?: PaymentsDeps,
): Promise<{ paymentId: string; payUrl: string }> {
  if (db.isTransaction) throw new Error("startDepositPayment calls the payment gateway; call it outside a transaction");
  const view = await getDepositForDealer(db, input.dealerOrganizationId, input.campaignId, input.now);
  const app = view.application;
  if (app.status !== "awaiting_deposit") throw new DomainError("invalid_state", "The deposit is already paid", { deposit: "paid" });
  const previous = await db
    .selectFrom("payments")
    .select(["status", "idempotency_key"])
    .where("payer_organization_id", "=", input.dealerOrganizationId)
    .where("purpose", "=", "deposit")
    .where("reference", "=", depositReference(app.id))
    .orderBy("created_at")
    .limit(50)
    .execute();
  if (previous.some((p) => p.status !== "created" && p.status !== "failed")) {
    throw new DomainError("invalid_state", "The deposit payment was received and is being recorded", { deposit: "processing" });
  }
  if (previous.length >= 50) throw new DomainError("rate_limited", "Too many payment attempts for this deposit");
  const pending = previous.find((p) => p.status === "created");
  const idempotencyKey = pending?.idempotency_key ?? `recruitment:${app.id}:deposit:${previous.length + 1}`;
  const description = `招募保证金 Recruitment deposit · ${view.campaign.title}`.slice(0, 200);
  const { payment, payUrl } = await createPayment(
    db,
    actor,
    {
      payerOrganizationId: input.dealerOrganizationId,
      payeeOrganizationId: app.coreEnterpriseId,
      purpose: "deposit",
      reference: depositReference(app.id),
      amountFen: app.depositFen,
      description,
      returnPath: `/join/${app.campaignId}/deposit`,
      idempotencyKey,
    },
    deps,
  );
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable("recruitment_applications")
      .set({ deposit_payment_id: payment.id, updated_at: sql`now()` })
      .where("id", "=", app.id)
      .where("status", "=", "awaiting_deposit")
      .execute();
    await recordAudit(trx, actor, {
      action: "recruitment_application.deposit_payment_started",
      entityType: "recruitment_application",
      entityId: app.id,
      organizationId: app.coreEnterpriseId,
      after: { payment_id: payment.id, amount_fen: payment.amountFen },
    });
  });
  return { paymentId: payment.id, payUrl };
}

/**
 * The payments' `deposit` purpose handler (R5), in the capture's own transaction (decision 021): the captured
 * money is in the dealer's wallet; move it to the campaign's deposit account (one idempotency key
 * per application, so a second payment can never be taken as a second deposit), mark the deposit
 * paid, and reactivate the link the approval held. A payment the application can no longer take
 * (withdrawn meanwhile, already paid, another amount) stays in the dealer's wallet, and the audit
 * trail says so.
 */
export async function applyCapturedDepositPayment(
  trx: Db,
  payment: Pick<Payment, "id" | "reference" | "amountFen" | "payerOrganizationId" | "payeeOrganizationId">,
  now: Date,
): Promise<PurposeResult> {
  const match = /^recruitment_application:([0-9a-f-]{36})$/.exec(payment.reference);
  if (!match || !isUuid(match[1])) throw new DomainError("validation", `payment ${payment.id} has an unknown deposit reference ${payment.reference}`);
  const row = await trx.selectFrom("recruitment_applications").selectAll().where("id", "=", match[1]).forUpdate().executeTakeFirst();
  if (!row) throw new DomainError("validation", `payment ${payment.id} names no application`);
  if (row.dealer_organization_id !== payment.payerOrganizationId || row.core_enterprise_id !== payment.payeeOrganizationId) {
    throw new DomainError("validation", `payment ${payment.id} was not paid by the application's dealer to its core enterprise`);
  }
  const system: Actor = { ...SYSTEM_ACTOR, organizationId: row.core_enterprise_id };
  if (row.status !== "awaiting_deposit" || row.deposit_fen !== payment.amountFen) {
    await recordAudit(trx, system, {
      action: "recruitment_application.deposit_not_applied",
      entityType: "recruitment_application",
      entityId: row.id,
      organizationId: row.core_enterprise_id,
      after: { payment_id: payment.id, amount_fen: payment.amountFen, status: row.status, note: "the money stays in the dealer's wallet" },
    });
    return { outcome: "left_in_wallet", why: `application ${row.status}` };
  }
  const wallet = await ensureAccount(trx, { kind: "wallet", organizationId: payment.payerOrganizationId });
  const held = await ensureAccount(trx, { kind: "dealer_deposits", organizationId: row.core_enterprise_id, code: depositAccountCode(row.campaign_id) });
  const { transfer: moved } = await transfer(trx, {
    idempotencyKey: `recruitment:${row.id}:deposit`,
    kind: "recruitment_deposit",
    reference: depositReference(row.id),
    debitAccountId: wallet.id,
    creditAccountId: held.id,
    amountFen: row.deposit_fen,
  });
  await fire(trx, row, {
    actor: system,
    actorKind: "system",
    event: "deposit_paid",
    patch: { deposit_paid_at: now, deposit_transfer_id: moved.id, deposit_payment_id: payment.id, link_held_for_deposit: false },
  });
  if (row.link_held_for_deposit && row.dealer_link_id) {
    const link = await trx.selectFrom("dealer_links").select("status").where("id", "=", row.dealer_link_id).executeTakeFirst();
    // The core enterprise may have reactivated it by hand already; then there is nothing to do.
    if (link?.status === "suspended") {
      await transitionDealerLink(trx, system, row.core_enterprise_id, row.dealer_link_id, "reactivate", "招募保证金已缴纳 / recruitment deposit paid");
    }
  }
  return { outcome: "applied" };
}
