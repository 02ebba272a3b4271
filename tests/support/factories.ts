import { randomBytes } from "node:crypto";
import type { Db } from "../../db";
import type { OrganizationKind, Role } from "../../db/schema";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { ensureAccount, type AccountView } from "../../app/domain/ledger/ledger.server";
import { addMembership, createOrganization } from "../../app/domain/identity/organizations.server";
import { hashPassword } from "../../app/domain/identity/passwords.server";

/** Small factories: each test builds exactly the world it talks about. */

const hashes = new Map<string, Promise<string>>();
// scrypt is slow on purpose (128 MiB, ~0.3 s): hash each distinct test password once per file.
function hashOnce(password: string): Promise<string> {
  let hash = hashes.get(password);
  if (!hash) {
    hash = hashPassword(password);
    hashes.set(password, hash);
  }
  return hash;
}

export function unique(label: string): string {
  return `${label}-${randomBytes(4).toString("hex")}`;
}

export async function createOrg(db: Db, input: { kind: OrganizationKind; name?: string }) {
  return createOrganization(db, SYSTEM_ACTOR, { kind: input.kind, name: input.name ?? unique(`org-${input.kind}`) });
}

export const TEST_PASSWORD = "correct horse battery";

export async function createUser(
  db: Db,
  input: { email?: string; password?: string; displayName?: string; locale?: string; memberships?: [string, Role][] } = {},
) {
  const email = input.email ?? `${unique("user")}@example.test`;
  const user = await db
    .insertInto("users")
    .values({
      email,
      display_name: input.displayName ?? email.split("@")[0],
      password_hash: await hashOnce(input.password ?? TEST_PASSWORD),
      locale: input.locale ?? "zh-CN",
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  for (const [organizationId, role] of input.memberships ?? []) {
    await addMembership(db, SYSTEM_ACTOR, user.id, organizationId, role);
  }
  return { ...user, password: input.password ?? TEST_PASSWORD };
}

export async function createWallet(db: Db, organizationId: string): Promise<AccountView> {
  return ensureAccount(db, { kind: "wallet", organizationId });
}
