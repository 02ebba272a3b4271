import { randomBytes } from "node:crypto";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import type { Db } from "../../db";
import type { Role } from "../../db/schema";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { requestNotification } from "../../app/domain/notifications/notifications.server";
import { TEST_REDIS_URL } from "../support/db";

/** Small factories for the outbox, jobs and notifications specs; each builds only what it needs. */

export async function createUser(db: Db, label = "user"): Promise<string> {
  const row = await db
    .insertInto("users")
    .values({
      email: `${label}-${randomBytes(4).toString("hex")}@example.test`,
      display_name: label,
      password_hash: "not-a-real-hash",
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  return row.id;
}

/** An organisation with `memberCount` users, each holding `roles` there. */
export async function createOrganizationWithMembers(
  db: Db,
  memberCount: number,
  roles: Role[] = ["owner"],
): Promise<{ organizationId: string; userIds: string[] }> {
  const org = await db
    .insertInto("organizations")
    .values({ kind: "dealer", name: `Dealer ${randomBytes(3).toString("hex")}` })
    .returning("id")
    .executeTakeFirstOrThrow();
  const userIds: string[] = [];
  for (let i = 0; i < memberCount; i++) {
    const userId = await createUser(db, `member${i}`);
    userIds.push(userId);
    for (const role of roles) {
      await db.insertInto("memberships").values({ user_id: userId, organization_id: org.id, role }).execute();
    }
  }
  return { organizationId: org.id, userIds };
}

/** A committed business change that asks for a `membership.added` notification. */
export async function commitMembershipNotice(db: Db, organizationId: string, userId: string): Promise<string> {
  return db.transaction().execute(async (trx) => {
    const { requestId } = await requestNotification(trx, SYSTEM_ACTOR, {
      organizationId,
      topic: "membership.added",
      params: { userId, displayName: "Zhang Wei 张伟", role: "purchaser" },
    });
    return requestId;
  });
}

export async function countNotifications(db: Db, requestId: string): Promise<number> {
  const row = await db
    .selectFrom("notifications")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("request_id", "=", requestId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function outboxRows(db: Db) {
  return db.selectFrom("outbox").selectAll().orderBy("id").execute();
}

/** Poll until `check` returns true, or fail with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A BullMQ queue under a test prefix plus the connection it uses; `close()` releases both, so
 * vitest can exit.
 */
export function testQueue(name: string, prefix: string): { queue: Queue<Record<string, unknown>, void, string>; close(): Promise<void> } {
  const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  const queue = new Queue<Record<string, unknown>, void, string>(name, { connection, prefix });
  return {
    queue,
    async close() {
      await queue.close();
      await connection.quit();
    },
  };
}
