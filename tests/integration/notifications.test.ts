import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { isDomainError } from "../../app/domain/shared/errors";
import {
  countUnreadNotifications,
  deliverNotification,
  listNotifications,
  markNotificationsRead,
  requestNotification,
  type NotificationRequestInput,
} from "../../app/domain/notifications/notifications.server";
import type { Db } from "../../db";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { commitMembershipNotice, countNotifications, createOrganizationWithMembers, createUser, outboxRows } from "./outbox.fixtures";

describe("notifications", () => {
  let t: TestDatabase;
  let db: Db;
  beforeAll(async () => {
    t = await createTestDatabase();
    db = t.db;
  });
  afterAll(() => t.close());

  const walletCredited = (organizationId: string, transferId: string): NotificationRequestInput<"wallet.credited"> => ({
    organizationId,
    topic: "wallet.credited",
    params: { transferId, accountCode: "wallet:dealer-1", amountDisplay: "¥1,234.50" },
  });

  it("delivers one notification per active member, once, however often and concurrently the step runs", async () => {
    const { organizationId, userIds } = await createOrganizationWithMembers(db, 3, ["owner", "finance"]);
    const disabled = await createUser(db, "left");
    await db.insertInto("memberships").values({ user_id: disabled, organization_id: organizationId, role: "viewer" }).execute();
    await db.updateTable("users").set({ status: "disabled" }).where("id", "=", disabled).execute();
    const requestId = await commitMembershipNotice(db, organizationId, userIds[0]);

    const results = await Promise.all([deliverNotification(db, requestId), deliverNotification(db, requestId), deliverNotification(db, requestId)]);
    expect(results.map((r) => r.inserted).sort()).toEqual([0, 0, 3]);
    expect(await deliverNotification(db, requestId)).toEqual({ inserted: 0, status: "delivered" });

    expect(await countNotifications(db, requestId)).toBe(3);
    const recipients = await db.selectFrom("notifications").select("user_id").where("request_id", "=", requestId).execute();
    expect(recipients.map((r) => r.user_id).sort()).toEqual([...userIds].sort());
    const request = await db.selectFrom("notification_requests").selectAll().where("id", "=", requestId).executeTakeFirstOrThrow();
    expect(request).toMatchObject({ status: "delivered", recipient_count: 3 });
  });

  it("shows a user the inbox of one organisation only, newest first, limited", async () => {
    const a = await createOrganizationWithMembers(db, 1);
    const b = await createOrganizationWithMembers(db, 1);
    const both = a.userIds[0];
    await db.insertInto("memberships").values({ user_id: both, organization_id: b.organizationId, role: "viewer" }).execute();

    const first = await commitMembershipNotice(db, a.organizationId, both);
    const second = await db.transaction().execute((trx) => requestNotification(trx, SYSTEM_ACTOR, walletCredited(a.organizationId, "0f7b3c1e-8a51-4c1e-9f0e-2b1c3d4e5f60")));
    const inB = await commitMembershipNotice(db, b.organizationId, both);
    for (const id of [first, second.requestId, inB]) await deliverNotification(db, id);

    const inboxA = await listNotifications(db, { userId: both, organizationId: a.organizationId, limit: 10 });
    expect(inboxA.map((n) => n.topic)).toEqual(["wallet.credited", "membership.added"]);
    const credited = inboxA[0];
    expect(credited.topic === "wallet.credited" && credited.params.amountDisplay).toBe("¥1,234.50");
    expect(inboxA.every((n) => n.readAt === null)).toBe(true);

    const inboxB = await listNotifications(db, { userId: both, organizationId: b.organizationId, limit: 10 });
    expect(inboxB).toHaveLength(1);
    // Another member of B never sees A's notifications through B, nor B's through A.
    expect(await listNotifications(db, { userId: b.userIds[0], organizationId: a.organizationId, limit: 10 })).toEqual([]);
    expect(await listNotifications(db, { userId: both, organizationId: a.organizationId, limit: 1 })).toHaveLength(1);
    expect(await listNotifications(db, { userId: both, organizationId: a.organizationId, limit: 10_000 })).toHaveLength(2);
  });

  it("marks the inbox read in one organisation only", async () => {
    const a = await createOrganizationWithMembers(db, 2);
    const b = await createOrganizationWithMembers(db, 1);
    const user = a.userIds[0];
    await db.insertInto("memberships").values({ user_id: user, organization_id: b.organizationId, role: "viewer" }).execute();
    for (const org of [a.organizationId, a.organizationId, b.organizationId]) {
      await deliverNotification(db, await commitMembershipNotice(db, org, user));
    }
    expect(await countUnreadNotifications(db, { userId: user, organizationId: a.organizationId })).toBe(2);

    expect(await markNotificationsRead(db, { userId: user, organizationId: a.organizationId }, new Date())).toBe(2);
    expect(await markNotificationsRead(db, { userId: user, organizationId: a.organizationId }, new Date())).toBe(0);
    expect(await countUnreadNotifications(db, { userId: user, organizationId: a.organizationId })).toBe(0);
    expect(await countUnreadNotifications(db, { userId: user, organizationId: b.organizationId })).toBe(1);
    // The other member's copies stay unread.
    expect(await countUnreadNotifications(db, { userId: a.userIds[1], organizationId: a.organizationId })).toBe(2);
  });

  it("refuses unknown topics and params that are more than ids and display values, writing nothing", async () => {
    const { organizationId } = await createOrganizationWithMembers(db, 1);
    const before = (await outboxRows(db)).length;
    const attempt = (input: NotificationRequestInput) =>
      db.transaction().execute((trx) => requestNotification(trx, SYSTEM_ACTOR, input));

    const withAmount = { ...walletCredited(organizationId, "0f7b3c1e-8a51-4c1e-9f0e-2b1c3d4e5f61"), params: { transferId: "0f7b3c1e-8a51-4c1e-9f0e-2b1c3d4e5f61", accountCode: "w", amountDisplay: "¥1", amount_fen: 100 } };
    const refusal = await attempt(withAmount as NotificationRequestInput).catch((e: unknown) => e);
    expect(isDomainError(refusal) && refusal.code).toBe("validation");
    await expect(attempt({ organizationId, topic: "order.exploded", params: {} } as unknown as NotificationRequestInput)).rejects.toThrow(/unknown notification topic/);
    await expect(attempt({ ...walletCredited(organizationId, "not-a-uuid") })).rejects.toThrow(/transferId/);
    await expect(attempt(walletCredited("00000000-0000-4000-8000-000000000000", "0f7b3c1e-8a51-4c1e-9f0e-2b1c3d4e5f62"))).rejects.toThrow(/organisation not found/);
    expect(await outboxRows(db)).toHaveLength(before);
  });

  it("asks once per dedupe key, with a deterministic job id", async () => {
    const { organizationId } = await createOrganizationWithMembers(db, 1);
    const transferId = "6a0c2f4e-1b3d-4f5a-8c7e-9d0b1a2c3e4f";
    const input = { ...walletCredited(organizationId, transferId), dedupeKey: `wallet.credited:${transferId}` };
    const first = await db.transaction().execute((trx) => requestNotification(trx, SYSTEM_ACTOR, input));
    const again = await db.transaction().execute((trx) => requestNotification(trx, SYSTEM_ACTOR, input));
    expect(first.created).toBe(true);
    expect(again).toEqual({ requestId: first.requestId, created: false });
    const rows = (await outboxRows(db)).filter((r) => r.job_id === `notifications:${first.requestId}:deliver`);
    expect(rows).toHaveLength(1);
    expect(rows[0].payload).toEqual({ requestId: first.requestId });
  });
});
