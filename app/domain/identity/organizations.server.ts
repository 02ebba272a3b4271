import type { Db } from "../../../db";
import { ORGANIZATION_KINDS, ROLES, type OrganizationKind, type Role } from "../../../db/schema";
import { recordAudit, type Actor, DomainError, normalizeUscc, USCC_MESSAGES, usccProblem } from "../shared";

export interface NewOrganization {
  kind: OrganizationKind;
  name: string;
  nameEn?: string | null;
  uscc?: string | null;
}

export async function createOrganization(db: Db, actor: Actor, input: NewOrganization) {
  if (!ORGANIZATION_KINDS.includes(input.kind)) {
    throw new DomainError("validation", `unknown organisation kind ${input.kind}`, { kind: "unknown kind" });
  }
  const name = input.name.trim();
  if (!name || name.length > 200) {
    throw new DomainError("validation", "Company name is required (at most 200 characters)", { name: "required" });
  }
  let uscc: string | null = null;
  if (input.uscc) {
    const problem = usccProblem(input.uscc);
    if (problem) throw new DomainError("validation", USCC_MESSAGES[problem].en, { uscc: USCC_MESSAGES[problem].en });
    uscc = normalizeUscc(input.uscc);
    const taken = await db.selectFrom("organizations").select("id").where("uscc", "=", uscc).executeTakeFirst();
    if (taken) throw new DomainError("conflict", "An organisation with this Unified Social Credit Code exists", { uscc: "already registered" });
  }
  const organization = await db
    .insertInto("organizations")
    .values({ kind: input.kind, name, name_en: input.nameEn?.trim() || null, uscc })
    .returningAll()
    .executeTakeFirstOrThrow();
  await recordAudit(db, actor, {
    action: "organization.created",
    entityType: "organization",
    entityId: organization.id,
    organizationId: organization.id,
    after: { kind: organization.kind, name: organization.name, uscc: organization.uscc },
  });
  return organization;
}

export async function addMembership(db: Db, actor: Actor, userId: string, organizationId: string, role: Role) {
  if (!ROLES.includes(role)) throw new DomainError("validation", `unknown role ${role}`, { role: "unknown role" });
  const row = await db
    .insertInto("memberships")
    .values({ user_id: userId, organization_id: organizationId, role })
    .onConflict((oc) => oc.columns(["user_id", "organization_id", "role"]).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (row) {
    await recordAudit(db, actor, {
      action: "membership.added",
      entityType: "membership",
      entityId: row.id,
      organizationId,
      after: { user_id: userId, role },
    });
  }
}

export interface OrganizationMembership {
  organizationId: string;
  kind: OrganizationKind;
  name: string;
  nameEn: string | null;
  uscc: string | null;
  status: "active" | "suspended";
  roles: Role[];
}

/** Every organisation the user belongs to, with the roles held there; the basis of all scoping. */
export async function listMembershipsForUser(db: Db, userId: string): Promise<OrganizationMembership[]> {
  const rows = await db
    .selectFrom("memberships as m")
    .innerJoin("organizations as o", "o.id", "m.organization_id")
    .select(["o.id", "o.kind", "o.name", "o.name_en", "o.uscc", "o.status", "m.role"])
    .where("m.user_id", "=", userId)
    .orderBy("o.created_at")
    .orderBy("o.id")
    .execute();
  const byOrg = new Map<string, OrganizationMembership>();
  for (const row of rows) {
    let entry = byOrg.get(row.id);
    if (!entry) {
      entry = {
        organizationId: row.id,
        kind: row.kind,
        name: row.name,
        nameEn: row.name_en,
        uscc: row.uscc,
        status: row.status,
        roles: [],
      };
      byOrg.set(row.id, entry);
    }
    entry.roles.push(row.role);
  }
  return [...byOrg.values()];
}

export async function findMembership(db: Db, userId: string, organizationId: string) {
  const all = await listMembershipsForUser(db, userId);
  return all.find((m) => m.organizationId === organizationId) ?? null;
}

export async function countMembers(db: Db, organizationId: string): Promise<number> {
  const row = await db
    .selectFrom("memberships")
    .select((eb) => eb.fn.count<number>("user_id").distinct().as("n"))
    .where("organization_id", "=", organizationId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Most organisations one pick list offers (a bank officer choosing a guarantor or a borrower). */
export const ORGANIZATION_LIST_MAX = 500;

/** Organisations of one kind by name, for the bank's pick lists: ids and names only. */
export async function listOrganizationsOfKind(db: Db, kind: OrganizationKind): Promise<{ id: string; name: string }[]> {
  return db.selectFrom("organizations").select(["id", "name"]).where("kind", "=", kind).orderBy("name").limit(ORGANIZATION_LIST_MAX).execute();
}
