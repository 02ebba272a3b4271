import type { z } from "zod";
import { DEFAULT_LOCALE, localeFromAcceptLanguage, translateDynamic, type Locale } from "../i18n";
import { DomainError, isDomainError } from "../domain/shared";
import type { Application, ApplicantView, Campaign, PublicCampaign, ReviewView } from "../domain/recruitment";
import { SALES_CHANNELS } from "../domain/recruitment";
import { apiFieldName } from "./handler.server";
import type { applicationSchema, campaignSchema, publicCampaignSchema } from "./contracts/recruitment";

/**
 * The recruitment API's JSON shapes and error wording, shared by its route modules. The models
 * speak problem codes per field (`uscc_check_character`): `error.fields` keeps them, and the
 * message says them as sentences — English unless the request prefers Chinese (`Accept-Language: zh-CN`).
 */

function apiLocale(request: Request): Locale {
  const preferred = localeFromAcceptLanguage(request.headers.get("Accept-Language"));
  // The API's default is English (integrators), the pages' is Chinese.
  return preferred === DEFAULT_LOCALE ? DEFAULT_LOCALE : "en";
}

/**
 * Run model work; a refusal with field problem codes is rethrown with a message saying each code as
 * a sentence in the caller's language (the handler then renames the fields to snake_case).
 */
export async function withProblemSentences<T>(request: Request, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!isDomainError(error) || Object.keys(error.fields).length === 0) throw error;
    const locale = apiLocale(request);
    // Fields keep the codes (the handler renames them to snake_case); the message says them.
    const message = Object.entries(error.fields)
      .map(([field, code]) => `${apiFieldName(field)}: ${translateDynamic(locale, `recruitment.problem.${code}`, code)}`)
      .join("; ");
    throw new DomainError(error.code, message, error.fields);
  }
}

export function campaignJson(c: Campaign, publicUrl: string): z.input<typeof campaignSchema> {
  return {
    id: c.id,
    status: c.status,
    title: c.title,
    description: c.description,
    requirements: c.requirements,
    regions: c.regions,
    quota: c.quota,
    approved_count: c.approvedCount,
    deposit_fen: c.depositFen,
    closes_on: c.closesOn,
    tier: c.tierId ? { id: c.tierId, name: c.tierName ?? "" } : null,
    credit_limit_fen: c.creditLimitFen,
    payment_terms_days: c.paymentTermsDays,
    public_url: `${publicUrl}/join/${c.id}`,
    created_at: c.createdAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
    published_at: c.publishedAt?.toISOString() ?? null,
    closed_at: c.closedAt?.toISOString() ?? null,
  };
}

export function publicCampaignJson(c: PublicCampaign, publicUrl: string): z.input<typeof publicCampaignSchema> {
  return {
    id: c.id,
    core_enterprise: { name: c.coreEnterpriseName, name_en: c.coreEnterpriseNameEn },
    // getPublicCampaign never returns a draft.
    status: c.status === "closed" ? "closed" : "published",
    title: c.title,
    description: c.description,
    requirements: c.requirements,
    regions: c.regions,
    quota: c.quota,
    places_left: c.placesLeft,
    deposit_fen: c.depositFen,
    closes_on: c.closesOn,
    accepting_applications: c.notAccepting === null,
    not_accepting_reason: c.notAccepting,
    channels: [...SALES_CHANNELS],
    public_url: `${publicUrl}/join/${c.id}`,
  };
}

type ViewParts = Pick<ReviewView, "timeline" | "invitation"> & {
  application: Application;
  documents: ApplicantView["documents"];
  openQuestion: string | null;
};

export function applicationJson(view: ViewParts, publicUrl: string, extra: { statusUrl?: string | null } = {}): z.input<typeof applicationSchema> {
  const a = view.application;
  return {
    id: a.id,
    campaign_id: a.campaignId,
    status: a.status,
    company_name: a.companyName,
    uscc: a.uscc,
    legal_representative: a.legalRepresentative,
    contact_name: a.contactName,
    contact_phone: a.contactPhone,
    contact_email: a.contactEmail,
    region: a.region,
    channels: a.channels,
    notes: a.notes,
    documents: view.documents.map((d) => ({ id: d.id, file_name: d.fileName, size_bytes: d.sizeBytes, created_at: d.createdAt.toISOString() })),
    timeline: view.timeline.map((e) => ({
      event: e.event,
      from_status: e.fromStatus,
      to_status: e.toStatus,
      actor: e.actorKind,
      message: e.message,
      at: e.at.toISOString(),
    })),
    open_question: view.openQuestion,
    dealer_organization_id: a.dealerOrganizationId,
    dealer_link_id: a.dealerLinkId,
    invitation: view.invitation
      ? {
          email: view.invitation.email,
          state: view.invitation.state,
          expires_at: view.invitation.expiresAt.toISOString(),
          url: view.invitation.path ? `${publicUrl}${view.invitation.path}` : null,
        }
      : null,
    deposit_fen: a.depositFen,
    deposit_paid_at: a.depositPaidAt?.toISOString() ?? null,
    deposit_url: a.status === "awaiting_deposit" ? `${publicUrl}/join/${a.campaignId}/deposit` : null,
    status_url: extra.statusUrl ?? null,
    created_at: a.createdAt.toISOString(),
    updated_at: a.updatedAt.toISOString(),
  };
}

/** The reviewer's view as the applicationJson parts (the open question read from the timeline). */
export function reviewParts(view: ReviewView): ViewParts {
  const lastQuestion = [...view.timeline].reverse().find((e) => e.event === "request_info");
  return {
    application: view.application,
    timeline: view.timeline,
    invitation: view.invitation,
    documents: view.documents.map((d) => ({ id: d.id, fileName: d.fileName, sizeBytes: d.sizeBytes, createdAt: d.createdAt })),
    openQuestion: view.application.status === "info_requested" ? (lastQuestion?.message ?? null) : null,
  };
}
