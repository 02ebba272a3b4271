import type { ColumnType, Generated } from "kysely";
import type { CreatedAt, NullableTimestamp, Role } from "./foundation";

/**
 * Online dealer recruitment (在线招募经销商): a core enterprise's campaigns, the applications
 * companies send to them (with their documents and timeline), and invitations of a first user into
 * an organisation. The state machines live in app/domain/recruitment/recruitment.server.ts; the CHECKs of
 * 0007_recruitment hold the shapes they promise.
 */

type UpdatedAt = ColumnType<Date, Date | string | undefined, Date | string>;
/** An Asia/Shanghai business date read as 'YYYY-MM-DD' text (models select it with to_char). */
type BusinessDate = ColumnType<string, string, string>;
/** text[]: read as an array, written as one. */
type TextArray = ColumnType<string[], string[], string[]>;

export const CAMPAIGN_STATUSES = ["draft", "published", "closed"] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export const APPLICATION_STATUSES = [
  "submitted",
  "under_review",
  "info_requested",
  "awaiting_deposit",
  "approved",
  "rejected",
  "withdrawn",
] as const;
export type ApplicationStatus = (typeof APPLICATION_STATUSES)[number];

export const APPLICATION_EVENTS = [
  "submit",
  "start_review",
  "request_info",
  "respond",
  "approve",
  "reject",
  "withdraw",
  "deposit_paid",
] as const;
export type ApplicationEvent = (typeof APPLICATION_EVENTS)[number];

/** Who fired a timeline event: the company applying (by its private link), the reviewer, or a workflow. */
export const APPLICATION_ACTOR_KINDS = ["applicant", "reviewer", "system"] as const;
export type ApplicationActorKind = (typeof APPLICATION_ACTOR_KINDS)[number];

/** The sales channels an applicant may tick; codes stored, labels translated when shown. */
export const SALES_CHANNELS = ["retail_store", "online_store", "wholesale", "projects", "rural", "other"] as const;
export type SalesChannel = (typeof SALES_CHANNELS)[number];

export const DOCUMENT_CONTENT_TYPES = ["application/pdf", "image/jpeg", "image/png"] as const;
export type DocumentContentType = (typeof DOCUMENT_CONTENT_TYPES)[number];

export interface RecruitmentCampaignsTable {
  id: Generated<string>;
  core_enterprise_id: string;
  title: string;
  description: string;
  requirements: string;
  /** Where dealers are wanted, as written in Chinese (浙江省温州市); an application names one. */
  regions: TextArray;
  /** Approvals allowed in total; approved_count ≤ quota is a CHECK. */
  quota: number;
  /** Approvals so far (awaiting deposit included): moved only under the campaign's row lock. */
  approved_count: Generated<number>;
  /** 0 = no deposit asked. */
  deposit_fen: number;
  /** Last Asia/Shanghai date applications are accepted, inclusive. */
  closes_on: BusinessDate;
  /** Given to every approved dealer's link; null = base prices. */
  tier_id: string | null;
  credit_limit_fen: number;
  payment_terms_days: number;
  status: Generated<CampaignStatus>;
  created_by_user_id: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  published_at: NullableTimestamp;
  closed_at: NullableTimestamp;
}

export interface RecruitmentApplicationsTable {
  id: Generated<string>;
  campaign_id: string;
  core_enterprise_id: string;
  status: Generated<ApplicationStatus>;
  company_name: string;
  uscc: string;
  legal_representative: string;
  contact_name: string;
  contact_phone: string;
  contact_email: string;
  region: string;
  channels: TextArray;
  notes: string;
  /** sha256 of the private status link's token; the token itself is never stored. */
  access_token_hash: string;
  /** The address it was sent from: the per-address submission limit counts these. */
  submitted_ip: string | null;
  /** Set on approval. */
  dealer_organization_id: string | null;
  dealer_link_id: string | null;
  invitation_id: string | null;
  /** The campaign's deposit as it stood at approval (0 = none). */
  deposit_fen: Generated<number>;
  /** Approval suspended the new link until the deposit is in; paying it reactivates the link. */
  link_held_for_deposit: Generated<boolean>;
  deposit_payment_id: string | null;
  deposit_transfer_id: string | null;
  deposit_paid_at: NullableTimestamp;
  decided_by_user_id: string | null;
  decided_at: NullableTimestamp;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface RecruitmentApplicationEventsTable {
  id: Generated<number>;
  application_id: string;
  core_enterprise_id: string;
  event: ApplicationEvent;
  from_status: ApplicationStatus | null;
  to_status: ApplicationStatus;
  actor_kind: ApplicationActorKind;
  actor_user_id: string | null;
  /** The reason, question or answer that goes with the event ('' when none). */
  message: string;
  at: CreatedAt;
}

export interface RecruitmentDocumentsTable {
  id: Generated<string>;
  application_id: string;
  core_enterprise_id: string;
  /** The timeline event it came with (the application, or an answer to an info request). */
  event_id: number | null;
  file_name: string;
  content_type: DocumentContentType;
  size_bytes: number;
  sha256: string;
  /** bytea: pg reads a Buffer, PGlite a Uint8Array; both are Uint8Array. */
  content: Uint8Array;
  created_at: CreatedAt;
}

export interface InvitationsTable {
  id: Generated<string>;
  organization_id: string;
  email: string;
  role: Role;
  /** sha256 of the token in the link (lookup); the token is derived from the nonce and a server secret. */
  token_hash: string;
  token_nonce: string;
  /** Where the new member lands after accepting (a same-site path). */
  return_path: string;
  invited_by_user_id: string | null;
  created_at: CreatedAt;
  expires_at: ColumnType<Date, Date | string, Date | string>;
  accepted_at: NullableTimestamp;
  accepted_user_id: string | null;
  revoked_at: NullableTimestamp;
}

export interface RecruitmentTables {
  recruitment_campaigns: RecruitmentCampaignsTable;
  recruitment_applications: RecruitmentApplicationsTable;
  recruitment_application_events: RecruitmentApplicationEventsTable;
  recruitment_documents: RecruitmentDocumentsTable;
  invitations: InvitationsTable;
}
