import { createHash, createHmac, randomBytes } from "node:crypto";
import { sql, type Selectable } from "kysely";
import { z } from "zod";
import { inTransaction, type Db } from "../../../db";
import { ROLES, type InvitationsTable, type Role } from "../../../db/schema";
import { recordAudit, type Actor, DomainError, isUuid } from "../shared";
import { normalizeEmail, tokensEqual } from "./auth.server";
import { addMembership } from "./organizations.server";
import { hashPassword } from "./passwords.server";

/**
 * Invitations: a one-time link that brings a first (or further) user into an organisation.
 *
 * The token in the link is never stored. It is derived from the invitation's random nonce with a
 * key only the server holds (HMAC of the session secret), and the row keeps sha256(token) to find
 * it. So a copy of the database alone opens no invitation, while the server can show a pending
 * link again to those allowed to see it (the reviewer, the applicant's status page) — this machine
 * sends no email, so showing the link is how it reaches the person. Re-issuing draws a new nonce,
 * which kills the old link.
 *
 * Accepting is one transaction on the locked row, so a link works once:
 *  - no account with the invited email yet → the person chooses a name and password, and a user
 *    and its membership are created;
 *  - an account exists → only that account, signed in, may accept (a link must never set the
 *    password of an existing account: whoever typed the email on a public form may not own it).
 */

export const INVITATION_LIMITS = {
  ttlMs: 7 * 24 * 60 * 60 * 1000,
  emailChars: 254,
  displayNameChars: 50,
  passwordMinChars: 8,
  passwordMaxChars: 200,
  returnPathChars: 500,
  /** base64url of 32 bytes. */
  tokenChars: 43,
} as const;

export type InvitationState = "pending" | "accepted" | "expired" | "revoked";

export interface Invitation {
  id: string;
  organizationId: string;
  email: string;
  role: Role;
  returnPath: string;
  createdAt: Date;
  expiresAt: Date;
  acceptedAt: Date | null;
  revokedAt: Date | null;
  state: InvitationState;
}

type InvitationRow = Selectable<InvitationsTable>;

function stateOf(row: Pick<InvitationRow, "accepted_at" | "revoked_at" | "expires_at">, now: Date): InvitationState {
  if (row.accepted_at) return "accepted";
  if (row.revoked_at) return "revoked";
  return row.expires_at.getTime() <= now.getTime() ? "expired" : "pending";
}

function view(row: InvitationRow, now: Date): Invitation {
  return {
    id: row.id,
    organizationId: row.organization_id,
    email: row.email,
    role: row.role,
    returnPath: row.return_path,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    acceptedAt: row.accepted_at,
    revokedAt: row.revoked_at,
    state: stateOf(row, now),
  };
}

// ---------------------------------------------------------------------------------------------
// Tokens

/** The key invitation tokens are derived with: a sub-key of the server secret, for this use only. */
function tokenKey(serverSecret: string): Buffer {
  if (serverSecret.length < 16) throw new Error("invitations: the server secret is too short to derive tokens from");
  return createHmac("sha256", serverSecret).update("rongtong:invitation-token:v1").digest();
}

/** The token of an invitation's link, from its id and nonce. */
export function invitationToken(serverSecret: string, invitation: { id: string; nonce: string }): string {
  return createHmac("sha256", tokenKey(serverSecret)).update(`${invitation.id}.${invitation.nonce}`).digest("base64url");
}

function sha256Hex(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

export function invitationPath(token: string): string {
  return `/invite/${token}`;
}

function isTokenShape(token: string): boolean {
  return token.length === INVITATION_LIMITS.tokenChars && /^[A-Za-z0-9_-]+$/.test(token);
}

// ---------------------------------------------------------------------------------------------
// Creating

const SAME_SITE_PATH = /^\/(?![/\\])[^\s\\]*$/;

export interface NewInvitation {
  organizationId: string;
  email: string;
  role: Role;
  /** Where the new member goes after accepting; defaults to the dashboard. */
  returnPath?: string;
  /** The server secret tokens are derived from (config.sessionSecret). */
  serverSecret: string;
  now: Date;
}

export interface IssuedInvitation {
  invitation: Invitation;
  /** The token for the link (`/invite/<token>`): shown, logged, never stored. */
  token: string;
}

const emailSchema = z.string().trim().min(3).max(INVITATION_LIMITS.emailChars).email();

/** Issue an invitation; call it in the transaction that makes the reason for it (an approval). */
export async function createInvitation(db: Db, actor: Actor, input: NewInvitation): Promise<IssuedInvitation> {
  const email = emailSchema.safeParse(input.email);
  if (!email.success) throw new DomainError("validation", "The invitation needs a valid email address", { email: "email" });
  if (!ROLES.includes(input.role)) throw new DomainError("validation", `unknown role ${input.role}`, { role: "unknown" });
  const returnPath = input.returnPath ?? "/";
  if (returnPath.length > INVITATION_LIMITS.returnPathChars || !SAME_SITE_PATH.test(returnPath)) {
    throw new DomainError("validation", "returnPath must be a path on this site", { returnPath: "same_site_path" });
  }
  if (!isUuid(input.organizationId)) throw new DomainError("not_found", "organisation not found");
  const now = input.now;
  const nonce = randomBytes(16).toString("base64url");
  const id = (await sql<{ id: string }>`select gen_random_uuid() as id`.execute(db)).rows[0].id;
  const token = invitationToken(input.serverSecret, { id, nonce });
  const row = await db
    .insertInto("invitations")
    .values({
      id,
      organization_id: input.organizationId,
      email: email.data,
      role: input.role,
      token_hash: sha256Hex(token),
      token_nonce: nonce,
      return_path: returnPath,
      invited_by_user_id: actor.userId,
      created_at: now,
      expires_at: new Date(now.getTime() + INVITATION_LIMITS.ttlMs),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await recordAudit(db, actor, {
    action: "invitation.created",
    entityType: "invitation",
    entityId: row.id,
    organizationId: row.organization_id,
    // The email is who was invited; the token never goes into the audit trail.
    after: { email: row.email, role: row.role, expires_at: row.expires_at.toISOString() },
  });
  return { invitation: view(row, now), token };
}

/**
 * A new link for an invitation that expired (or whose link was lost): new nonce, new expiry.
 * Scoped by organisation; an accepted invitation cannot be re-issued.
 */
export async function reissueInvitation(
  db: Db,
  actor: Actor,
  input: { invitationId: string; organizationId: string; serverSecret: string; now: Date },
): Promise<IssuedInvitation> {
  if (!isUuid(input.invitationId)) throw new DomainError("not_found", "invitation not found");
  const now = input.now;
  return inTransaction(db, async (trx) => {
    const before = await trx
      .selectFrom("invitations")
      .selectAll()
      .where("id", "=", input.invitationId)
      .where("organization_id", "=", input.organizationId)
      .forUpdate()
      .executeTakeFirst();
    if (!before) throw new DomainError("not_found", "invitation not found");
    if (before.accepted_at) throw new DomainError("invalid_state", "The invitation was already accepted", { invitation: "accepted" });
    const nonce = randomBytes(16).toString("base64url");
    const token = invitationToken(input.serverSecret, { id: before.id, nonce });
    const row = await trx
      .updateTable("invitations")
      .set({
        token_hash: sha256Hex(token),
        token_nonce: nonce,
        revoked_at: null,
        expires_at: new Date(now.getTime() + INVITATION_LIMITS.ttlMs),
      })
      .where("id", "=", before.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(trx, actor, {
      action: "invitation.reissued",
      entityType: "invitation",
      entityId: row.id,
      organizationId: row.organization_id,
      before: { expires_at: before.expires_at.toISOString() },
      after: { expires_at: row.expires_at.toISOString() },
    });
    return { invitation: view(row, now), token };
  });
}

/**
 * The link of a still-pending invitation, for those the caller has already checked may see it;
 * null when it is no longer pending (accepted, expired, revoked) or the secret changed since.
 */
export async function pendingInvitationLink(
  db: Db,
  invitationId: string,
  serverSecret: string,
  now: Date,
): Promise<{ invitation: Invitation; path: string | null }> {
  if (!isUuid(invitationId)) throw new DomainError("not_found", "invitation not found");
  const row = await db.selectFrom("invitations").selectAll().where("id", "=", invitationId).executeTakeFirst();
  if (!row) throw new DomainError("not_found", "invitation not found");
  const invitation = view(row, now);
  if (invitation.state !== "pending") return { invitation, path: null };
  const token = invitationToken(serverSecret, { id: row.id, nonce: row.token_nonce });
  // After a secret rotation the derived token no longer matches: better no link than a dead one.
  if (!tokensEqual(sha256Hex(token), row.token_hash)) return { invitation, path: null };
  return { invitation, path: invitationPath(token) };
}

// ---------------------------------------------------------------------------------------------
// Reading by token (the /invite page)

export interface InvitationByToken extends Invitation {
  organizationName: string;
  organizationNameEn: string | null;
  /** An account with the invited email exists: it must sign in to accept. */
  accountExists: boolean;
}

async function findRowByToken(db: Db, token: string, lock: boolean): Promise<InvitationRow | undefined> {
  if (!isTokenShape(token)) return undefined;
  let query = db.selectFrom("invitations").selectAll().where("token_hash", "=", sha256Hex(token));
  if (lock) query = query.forUpdate();
  return query.executeTakeFirst();
}

/** The invitation a link names, or null for a token that names none (same answer as a wrong one). */
export async function findInvitationByToken(db: Db, token: string, now: Date): Promise<InvitationByToken | null> {
  const row = await findRowByToken(db, token, false);
  if (!row) return null;
  const org = await db.selectFrom("organizations").select(["name", "name_en"]).where("id", "=", row.organization_id).executeTakeFirstOrThrow();
  const user = await db.selectFrom("users").select("id").where(sql<string>`lower(email)`, "=", normalizeEmail(row.email)).executeTakeFirst();
  return { ...view(row, now), organizationName: org.name, organizationNameEn: org.name_en, accountExists: Boolean(user) };
}

// ---------------------------------------------------------------------------------------------
// Accepting

/** Messages are problem codes, shown next to the field in the reader's language. */
export const acceptInvitationFormSchema = z
  .object({
    displayName: z
      .string({ required_error: "required", invalid_type_error: "required" })
      .trim()
      .min(1, "required")
      .max(INVITATION_LIMITS.displayNameChars, "too_long"),
    password: z
      .string({ required_error: "required", invalid_type_error: "required" })
      .min(INVITATION_LIMITS.passwordMinChars, "password_short")
      .max(INVITATION_LIMITS.passwordMaxChars, "too_long"),
    passwordRepeat: z.string({ required_error: "required", invalid_type_error: "required" }).min(1, "required"),
  })
  .superRefine((value, ctx) => {
    if (value.password !== value.passwordRepeat) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["passwordRepeat"], message: "password_mismatch" });
  });

export type AcceptInvitationForm = z.infer<typeof acceptInvitationFormSchema>;

export interface AcceptedInvitation {
  userId: string;
  email: string;
  organizationId: string;
  role: Role;
  returnPath: string;
}

function refuseUnlessPending(row: InvitationRow, now: Date): void {
  const state = stateOf(row, now);
  if (state === "accepted") throw new DomainError("invalid_state", "This invitation was already accepted", { invitation: "accepted" });
  if (state === "revoked") throw new DomainError("invalid_state", "This invitation was withdrawn", { invitation: "revoked" });
  if (state === "expired") throw new DomainError("invalid_state", "This invitation has expired: ask for a new link", { invitation: "expired" });
}

async function markAccepted(trx: Db, actor: Actor, row: InvitationRow, userId: string, now: Date): Promise<void> {
  await addMembership(trx, { ...actor, userId, organizationId: row.organization_id }, userId, row.organization_id, row.role);
  await trx.updateTable("invitations").set({ accepted_at: now, accepted_user_id: userId }).where("id", "=", row.id).execute();
  await recordAudit(trx, { ...actor, userId, organizationId: row.organization_id }, {
    action: "invitation.accepted",
    entityType: "invitation",
    entityId: row.id,
    organizationId: row.organization_id,
    after: { user_id: userId, role: row.role },
  });
}

/**
 * Accept as a new account: create the user with the invited email and the chosen password, and its
 * membership. The caller signs the user in afterwards (auth.login with the same password).
 */
export async function acceptInvitationAsNewUser(
  db: Db,
  actor: Actor,
  input: { token: string; form: AcceptInvitationForm; locale?: string; now: Date },
): Promise<AcceptedInvitation> {
  const now = input.now;
  const parsed = acceptInvitationFormSchema.safeParse(input.form);
  if (!parsed.success) {
    const fields: Record<string, string> = {};
    for (const issue of parsed.error.issues) fields[String(issue.path[0] ?? "form")] ??= issue.message;
    throw new DomainError("validation", "The account details are not valid", fields);
  }
  // scrypt is slow and memory-hard by design: hash before the transaction takes any lock.
  const passwordHash = await hashPassword(parsed.data.password);
  return inTransaction(db, async (trx) => {
    const row = await findRowByToken(trx, input.token, true);
    if (!row) throw new DomainError("not_found", "invitation not found");
    refuseUnlessPending(row, now);
    const email = normalizeEmail(row.email);
    if (parsed.data.password.normalize("NFKC").toLowerCase() === email) {
      throw new DomainError("validation", "Choose a password other than your email address", { password: "password_is_email" });
    }
    const taken = await trx.selectFrom("users").select("id").where(sql<string>`lower(email)`, "=", email).executeTakeFirst();
    if (taken) throw new DomainError("conflict", "An account with this email exists: sign in to accept", { invitation: "account_exists" });
    let userId: string;
    try {
      const user = await trx
        .insertInto("users")
        .values({
          email: row.email,
          display_name: parsed.data.displayName,
          password_hash: passwordHash,
          locale: input.locale === "en" ? "en" : "zh-CN",
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      userId = user.id;
    } catch (error) {
      // Someone registered the same email between our check and the insert.
      if ((error as { code?: string }).code === "23505") {
        throw new DomainError("conflict", "An account with this email exists: sign in to accept", { invitation: "account_exists" });
      }
      throw error;
    }
    await recordAudit(trx, { ...actor, userId, organizationId: row.organization_id }, {
      action: "user.created",
      entityType: "user",
      entityId: userId,
      organizationId: row.organization_id,
      after: { email: row.email, via: "invitation" },
    });
    await markAccepted(trx, actor, row, userId, now);
    return { userId, email: row.email, organizationId: row.organization_id, role: row.role, returnPath: row.return_path };
  });
}

/** Accept as the signed-in user, whose email must be the invited one. */
export async function acceptInvitationAsUser(
  db: Db,
  actor: Actor,
  input: { token: string; userId: string; now: Date },
): Promise<AcceptedInvitation> {
  const now = input.now;
  return inTransaction(db, async (trx) => {
    const row = await findRowByToken(trx, input.token, true);
    if (!row) throw new DomainError("not_found", "invitation not found");
    refuseUnlessPending(row, now);
    const user = await trx.selectFrom("users").select(["id", "email", "status"]).where("id", "=", input.userId).executeTakeFirst();
    if (!user || user.status !== "active") throw new DomainError("unauthenticated", "Sign in first");
    if (normalizeEmail(user.email) !== normalizeEmail(row.email)) {
      throw new DomainError("forbidden", "This invitation is for another email address", { invitation: "other_email" });
    }
    await markAccepted(trx, actor, row, user.id, now);
    return { userId: user.id, email: user.email, organizationId: row.organization_id, role: row.role, returnPath: row.return_path };
  });
}
