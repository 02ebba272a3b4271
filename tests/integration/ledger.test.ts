import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "kysely";
import type { DbHandle } from "../../db";
import {
  applyBatch,
  ensureAccount,
  getAccount,
  lockAccountsByCodes,
  postPending,
  prepareTransfers,
  readAccountsByCodes,
  STATEMENT_ASSERTION_FAILED,
  transfer,
  verifyLedger,
  voidPending,
  type TransferResult,
} from "../../app/domain/ledger/ledger.server";
import { DomainError } from "../../app/domain/shared/errors";
import { createEmbeddedTestDatabase, createTestDatabase } from "../support/db";
import { walletWithFunds } from "../support/ledger-fixtures";

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (error) {
    if (error instanceof DomainError) return error.code;
    throw error;
  }
}

/** Sum of (debits - credits) over every account: zero when money is conserved. */
async function netOfAllAccounts(handle: DbHandle): Promise<number> {
  const { rows } = await sql<{ net: number; pending: number }>`
    select coalesce(sum(debits_posted_fen - credits_posted_fen), 0)::bigint as net,
           coalesce(sum(debits_pending_fen - credits_pending_fen), 0)::bigint as pending
    from ledger_accounts`.execute(handle.db);
  expect(rows[0].pending).toBe(0);
  return rows[0].net;
}

function ledgerSpecification(name: string, open: () => Promise<DbHandle>, concurrency: number) {
  describe(`ledger on ${name}`, () => {
    let handle: DbHandle;
    beforeAll(async () => {
      handle = await open();
    });
    afterAll(async () => {
      await handle?.close();
    });

    it(`never overdraws under ${concurrency} concurrent transfers and holds that cannot all be covered`, async () => {
      const { db } = handle;
      const funded = 10_000;
      const wallets = await Promise.all([0, 1, 2, 3, 4].map(() => walletWithFunds(db, funded, "conc")));
      const sink = await walletWithFunds(db, 0, "sink");
      // Deterministic pseudo-random plan: demand (about 3x supply) exceeds what the wallets hold.
      let seed = 42;
      const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const plan = Array.from({ length: concurrency }, (_, i) => {
        const from = wallets[Math.floor(rand() * wallets.length)];
        const toOther = rand() < 0.5;
        const to = toOther ? wallets[(wallets.indexOf(from) + 1) % wallets.length] : sink;
        return { i, from, to, amountFen: 200 + Math.floor(rand() * 1300), pending: rand() < 0.4 };
      });
      const results = await Promise.all(
        plan.map(async (op) => {
          try {
            const r = await transfer(db, {
              idempotencyKey: `conc:${name}:${op.i}`,
              kind: op.pending ? "escrow_hold" : "payment",
              reference: `test:${op.i}`,
              debitAccountId: op.from.id,
              creditAccountId: op.to.id,
              amountFen: op.amountFen,
              pending: op.pending,
            });
            return { op, result: r as TransferResult | null, refused: null as string | null };
          } catch (error) {
            if (error instanceof DomainError) return { op, result: null, refused: error.code };
            throw error;
          }
        }),
      );
      const applied = results.filter((r) => r.result);
      const refused = results.filter((r) => r.refused);
      expect(applied.length).toBeGreaterThan(0);
      expect(refused.length).toBeGreaterThan(0);
      expect(new Set(refused.map((r) => r.refused))).toEqual(new Set(["insufficient_funds"]));

      // Resolve every hold concurrently: half posted, half voided.
      const holds = applied.filter((r) => r.op.pending);
      await Promise.all(
        holds.map((h, k) =>
          k % 2 === 0
            ? postPending(db, { idempotencyKey: `conc:${name}:post:${k}`, pendingId: h.result!.transfer.id })
            : voidPending(db, { idempotencyKey: `conc:${name}:void:${k}`, pendingId: h.result!.transfer.id }),
        ),
      );

      // Replay what the ledger accepted and compare every balance: no update was lost.
      const expected = new Map<string, number>(wallets.map((w) => [w.id, funded]));
      expected.set(sink.id, 0);
      const voided = new Set(holds.filter((_, k) => k % 2 === 1).map((h) => h.op.i));
      for (const { op } of applied) {
        if (voided.has(op.i)) continue;
        expected.set(op.from.id, expected.get(op.from.id)! - op.amountFen);
        expected.set(op.to.id, expected.get(op.to.id)! + op.amountFen);
      }
      for (const [id, balanceFen] of expected) {
        const account = await getAccount(db, id);
        expect(account.balanceFen).toBe(balanceFen);
        expect(account.balanceFen).toBeGreaterThanOrEqual(0);
        expect(account.pendingFen).toBe(0);
      }
      expect(await verifyLedger(db)).toEqual([]);
      expect(await netOfAllAccounts(handle)).toBe(0);
    });

    it("applies one idempotency key once however many times it arrives at once", async () => {
      const { db } = handle;
      const from = await walletWithFunds(db, 5_000, "idem");
      const to = await walletWithFunds(db, 0, "idem");
      const attempt = () =>
        transfer(db, {
          idempotencyKey: `idem:${name}`,
          kind: "payment",
          reference: "order:1",
          debitAccountId: from.id,
          creditAccountId: to.id,
          amountFen: 1_234,
        });
      const results = await Promise.all(Array.from({ length: 20 }, attempt));
      const ids = new Set(results.map((r) => r.transfer.id));
      expect(ids.size).toBe(1);
      expect(results.filter((r) => !r.replayed)).toHaveLength(1);
      expect((await getAccount(db, from.id)).balanceFen).toBe(5_000 - 1_234);
      expect((await getAccount(db, to.id)).balanceFen).toBe(1_234);

      const other = transfer(db, {
        idempotencyKey: `idem:${name}`,
        kind: "payment",
        reference: "order:1",
        debitAccountId: from.id,
        creditAccountId: to.id,
        amountFen: 999,
      });
      await expect(other).rejects.toMatchObject({ code: "idempotency_conflict" });
      expect((await getAccount(db, from.id)).balanceFen).toBe(5_000 - 1_234);
    });

    it("replays a seen key even when the balance could no longer cover it, and refuses a new one", async () => {
      const { db } = handle;
      const from = await walletWithFunds(db, 5_000, "short");
      const to = await walletWithFunds(db, 0, "short");
      const pay = (key: string) =>
        transfer(db, { idempotencyKey: key, kind: "payment", reference: "order:2", debitAccountId: from.id, creditAccountId: to.id, amountFen: 4_000 });
      const first = await pay(`short:${name}:1`);
      expect(first.replayed).toBe(false);
      const again = await pay(`short:${name}:1`);
      expect(again).toMatchObject({ replayed: true, transfer: { id: first.transfer.id } });
      expect(await codeOf(pay(`short:${name}:2`))).toBe("insufficient_funds");
      expect((await getAccount(db, from.id)).balanceFen).toBe(1_000);
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("resolves a hold once: a second post or void is refused, and a post above the hold too", async () => {
      const { db } = handle;
      const buyer = await walletWithFunds(db, 10_000, "hold");
      const seller = await walletWithFunds(db, 0, "hold");
      const hold = await transfer(db, {
        idempotencyKey: `hold:${name}:1`,
        kind: "escrow_hold",
        reference: "market_order:1",
        debitAccountId: buyer.id,
        creditAccountId: seller.id,
        amountFen: 6_000,
        pending: true,
      });
      const buyerHeld = await getAccount(db, buyer.id);
      expect(buyerHeld).toMatchObject({ balanceFen: 10_000, pendingFen: 6_000, availableFen: 4_000 });
      expect(await getAccount(db, seller.id)).toMatchObject({ balanceFen: 0, incomingPendingFen: 6_000, availableFen: 0 });
      // The held money cannot be spent twice.
      expect(
        await codeOf(
          transfer(db, {
            idempotencyKey: `hold:${name}:spend`,
            kind: "payment",
            reference: "x",
            debitAccountId: buyer.id,
            creditAccountId: seller.id,
            amountFen: 4_001,
          }),
        ),
      ).toBe("insufficient_funds");

      expect(await codeOf(postPending(db, { idempotencyKey: `hold:${name}:big`, pendingId: hold.transfer.id, amountFen: 6_001 }))).toBe(
        "validation",
      );
      // Partial post: 4,500 to the seller, 1,500 released to the buyer.
      const posted = await postPending(db, { idempotencyKey: `hold:${name}:post`, pendingId: hold.transfer.id, amountFen: 4_500 });
      expect(posted.transfer).toMatchObject({ phase: "post_pending", amount_fen: 4_500, pending_id: hold.transfer.id });
      expect(await getAccount(db, buyer.id)).toMatchObject({ balanceFen: 5_500, pendingFen: 0, availableFen: 5_500 });
      expect(await getAccount(db, seller.id)).toMatchObject({ balanceFen: 4_500, incomingPendingFen: 0 });

      expect(await codeOf(postPending(db, { idempotencyKey: `hold:${name}:post2`, pendingId: hold.transfer.id }))).toBe("invalid_state");
      expect(await codeOf(voidPending(db, { idempotencyKey: `hold:${name}:void`, pendingId: hold.transfer.id }))).toBe("invalid_state");
      // The same resolution retried with its own key is a replay, not a second posting.
      const again = await postPending(db, { idempotencyKey: `hold:${name}:post`, pendingId: hold.transfer.id, amountFen: 4_500 });
      expect(again).toMatchObject({ replayed: true, transfer: { id: posted.transfer.id } });
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("resolves a hold at most once when a post and a void race", async () => {
      const { db } = handle;
      const buyer = await walletWithFunds(db, 3_000, "race");
      const seller = await walletWithFunds(db, 0, "race");
      const hold = await transfer(db, {
        idempotencyKey: `race:${name}`,
        kind: "escrow_hold",
        reference: "market_order:2",
        debitAccountId: buyer.id,
        creditAccountId: seller.id,
        amountFen: 3_000,
        pending: true,
      });
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, (_, k) =>
          codeOf(
            k % 2
              ? postPending(db, { idempotencyKey: `race:${name}:${k}`, pendingId: hold.transfer.id })
              : voidPending(db, { idempotencyKey: `race:${name}:${k}`, pendingId: hold.transfer.id }),
          ),
        ),
      );
      expect(outcomes.filter((o) => o === "ok")).toHaveLength(1);
      expect(outcomes.filter((o) => o === "invalid_state")).toHaveLength(9);
      const buyerAfter = await getAccount(db, buyer.id);
      const sellerAfter = await getAccount(db, seller.id);
      expect(buyerAfter.balanceFen + sellerAfter.balanceFen).toBe(3_000);
      expect(buyerAfter.pendingFen).toBe(0);
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("moves money both ways between two accounts at once without deadlock", async () => {
      const { db } = handle;
      const a = await walletWithFunds(db, 50_000, "ab");
      const b = await walletWithFunds(db, 50_000, "ab");
      await Promise.all(
        Array.from({ length: 40 }, (_, k) =>
          transfer(db, {
            idempotencyKey: `ab:${name}:${k}`,
            kind: "payment",
            reference: `ab:${k}`,
            debitAccountId: k % 2 ? a.id : b.id,
            creditAccountId: k % 2 ? b.id : a.id,
            amountFen: 100 + k,
          }),
        ),
      );
      const total = (await getAccount(db, a.id)).balanceFen + (await getAccount(db, b.id)).balanceFen;
      expect(total).toBe(100_000);
    });

    it("refuses bad amounts, unknown accounts and a transfer to itself without writing", async () => {
      const { db } = handle;
      const w = await walletWithFunds(db, 1_000, "bad");
      const base = { idempotencyKey: `bad:${name}`, kind: "payment", reference: "r", debitAccountId: w.id, creditAccountId: w.id };
      const before = await db.selectFrom("ledger_transfers").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      for (const amountFen of [0, -5, 1.5, Number.NaN, 2 ** 60]) {
        expect(await codeOf(transfer(db, { ...base, amountFen }))).toBe("validation");
      }
      expect(await codeOf(transfer(db, { ...base, amountFen: 10 }))).toBe("validation");
      expect(
        await codeOf(transfer(db, { ...base, creditAccountId: "00000000-0000-4000-8000-000000000000", amountFen: 10 })),
      ).toBe("not_found");
      expect(await codeOf(transfer(db, { ...base, creditAccountId: "not-a-uuid", amountFen: 10 }))).toBe("not_found");
      const after = await db.selectFrom("ledger_transfers").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      expect(Number(after.n)).toBe(Number(before.n));
    });

    it("keeps transfers append-only: an update or delete is refused by the database", async () => {
      const { db } = handle;
      const w = await walletWithFunds(db, 700, "append");
      const row = await db.selectFrom("ledger_transfers").select("id").where("credit_account_id", "=", w.id).executeTakeFirstOrThrow();
      await expect(db.updateTable("ledger_transfers").set({ amount_fen: 1 }).where("id", "=", row.id).execute()).rejects.toThrow(
        /append-only/,
      );
      await expect(db.deleteFrom("ledger_transfers").where("id", "=", row.id).execute()).rejects.toThrow(/append-only/);
    });

    it("rolls a transfer back with the business transaction it was part of", async () => {
      const { db } = handle;
      const from = await walletWithFunds(db, 2_000, "rollback");
      const to = await walletWithFunds(db, 0, "rollback");
      await expect(
        db.transaction().execute(async (trx) => {
          await transfer(trx, {
            idempotencyKey: `rollback:${name}`,
            kind: "payment",
            reference: "order:rolled-back",
            debitAccountId: from.id,
            creditAccountId: to.id,
            amountFen: 2_000,
          });
          throw new Error("the order could not be saved");
        }),
      ).rejects.toThrow(/could not be saved/);
      expect((await getAccount(db, from.id)).balanceFen).toBe(2_000);
      expect(await db.selectFrom("ledger_transfers").select("id").where("idempotency_key", "=", `rollback:${name}`).execute()).toEqual([]);
    });

    it("applies a batch of transfers and hold resolutions at once, or nothing of it", async () => {
      const { db } = handle;
      const a = await walletWithFunds(db, 10_000, "batch");
      const b = await walletWithFunds(db, 0, "batch");
      const hold = await transfer(db, { idempotencyKey: `batch-hold:${name}`, kind: "escrow_hold", reference: "t:b", debitAccountId: a.id, creditAccountId: b.id, amountFen: 3_000, pending: true });
      const done = await applyBatch(db, [
        { op: "transfer", idempotencyKey: `batch-1:${name}`, kind: "payment", reference: "t:b", debitAccountId: a.id, creditAccountId: b.id, amountFen: 4_000 },
        { op: "post_pending", idempotencyKey: `batch-2:${name}`, pendingId: hold.transfer.id, amountFen: 1_000 },
        { op: "transfer", idempotencyKey: `batch-3:${name}`, kind: "payment", reference: "t:b", debitAccountId: a.id, creditAccountId: b.id, amountFen: 5_000, pending: true },
      ]);
      expect(done.map((t) => [t.phase, t.amount_fen])).toEqual([["single", 4_000], ["post_pending", 1_000], ["pending", 5_000]]);
      // 10,000 − 4,000 − 1,000 posted, 5,000 held again.
      expect(await getAccount(db, a.id)).toMatchObject({ balanceFen: 5_000, pendingFen: 5_000, availableFen: 0 });
      expect(await getAccount(db, b.id)).toMatchObject({ balanceFen: 5_000 });

      // Any refusal refuses the whole batch, before anything is written.
      const over = [
        { op: "transfer" as const, idempotencyKey: `batch-4:${name}`, kind: "payment", reference: "t:b", debitAccountId: b.id, creditAccountId: a.id, amountFen: 1 },
        // a has nothing available: only the 1 fen the line before gives it.
        { op: "transfer" as const, idempotencyKey: `batch-5:${name}`, kind: "payment", reference: "t:b", debitAccountId: a.id, creditAccountId: b.id, amountFen: 2 },
      ];
      expect(await codeOf(applyBatch(db, over))).toBe("insufficient_funds");
      expect(await codeOf(applyBatch(db, [{ ...over[0], idempotencyKey: `batch-1:${name}` }]))).toBe("conflict");
      expect(await db.selectFrom("ledger_transfers").select("id").where("idempotency_key", "in", [`batch-4:${name}`, `batch-5:${name}`]).execute()).toEqual([]);
      expect(await getAccount(db, b.id)).toMatchObject({ balanceFen: 5_000 });
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("lets a batch reuse the lock its transaction took, and only that transaction's", async () => {
      const { db } = handle;
      const a = await walletWithFunds(db, 10_000, "locked");
      const b = await walletWithFunds(db, 0, "locked");
      const c = await walletWithFunds(db, 0, "locked");
      const move = (key: string, amountFen: number) => ({ op: "transfer" as const, idempotencyKey: `${key}:${name}`, kind: "payment", reference: "t:l", debitAccountId: a.id, creditAccountId: b.id, amountFen });
      const statements: string[] = [];
      await db.transaction().execute(async (plain) => {
        const trx = plain.withPlugin({
          transformQuery: (args) => {
            statements.push(args.node.kind);
            return args.node;
          },
          transformResult: async (args) => args.result,
        });
        const locked = await lockAccountsByCodes(trx, [a.code, b.code, "no-such-account"]);
        expect([...locked.byCode().keys()].sort()).toEqual([a.code, b.code].sort());
        // Only in the transaction that took it, and only for the accounts it covers.
        expect(locked.rowsFor(db, [a.id, b.id])).toBeNull();
        expect(locked.rowsFor(trx, [a.id, c.id])).toBeNull();
        statements.length = 0;
        await applyBatch(trx, [move("locked-1", 6_000)], { locked });
      });
      // The reused lock: no SELECT … FOR UPDATE of its own, one statement for the rows and totals.
      expect(statements).toEqual(["RawNode"]);
      expect(await getAccount(db, a.id)).toMatchObject({ balanceFen: 4_000 });
      expect(await verifyLedger(db)).toEqual([]);
    });

    it("writes a batch planned on an unlocked read in one statement, or nothing of it when an account changed since", async () => {
      const { db } = handle;
      const a = await walletWithFunds(db, 10_000, "snapshot");
      const b = await walletWithFunds(db, 0, "snapshot");
      const move = (key: string, amountFen: number) => ({ op: "transfer" as const, idempotencyKey: `${key}:${name}`, kind: "payment", reference: "t:s", debitAccountId: a.id, creditAccountId: b.id, amountFen });
      const write = (prepared: ReturnType<typeof prepareTransfers>) =>
        sql<{ ok: boolean }>`with ${prepared.clauses()} select rongtong_assert(${prepared.written()}, 'test: accounts changed') as ok`.execute(db);

      // Planned on the read: refused there already when it does not fit, or names an account not read.
      const before = await readAccountsByCodes(db, [a.code, b.code]);
      expect(() => prepareTransfers([move("snap-over", 10_001)], before)).toThrow(expect.objectContaining({ code: "insufficient_funds" }));
      expect(() => prepareTransfers([move("snap-1", 1_000), move("snap-2", 9_001)], before)).toThrow(expect.objectContaining({ code: "insufficient_funds" }));
      const stranger = await walletWithFunds(db, 5, "snapshot");
      expect(() => prepareTransfers([{ ...move("snap-stranger", 1), debitAccountId: stranger.id }], before)).toThrow(expect.objectContaining({ code: "not_found" }));

      // Another transfer takes 6,000 after the read: the 8,000 planned on it no longer fit, and the
      // statement fails whole with the code its caller redoes the work on.
      const stale = prepareTransfers([move("snap-3", 8_000)], before);
      await transfer(db, { idempotencyKey: `snap-other:${name}`, kind: "payment", reference: "t:s", debitAccountId: a.id, creditAccountId: b.id, amountFen: 6_000 });
      let failure: unknown = null;
      try {
        await write(stale);
      } catch (error) {
        failure = error;
      }
      expect((failure as { code?: string } | null)?.code).toBe(STATEMENT_ASSERTION_FAILED);
      expect(await db.selectFrom("ledger_transfers").select("id").where("idempotency_key", "=", `snap-3:${name}`).execute()).toEqual([]);
      expect(await getAccount(db, a.id)).toMatchObject({ balanceFen: 4_000 });

      // A key already used: the row is not written, and neither are the totals.
      const replay = prepareTransfers([move("snap-other", 1_000)], await readAccountsByCodes(db, [a.code, b.code]));
      await expect(write(replay)).rejects.toMatchObject({ code: STATEMENT_ASSERTION_FAILED });
      expect(await getAccount(db, a.id)).toMatchObject({ balanceFen: 4_000 });

      // Planned on a fresh read, within what is there: written, rows and totals together.
      const fresh = prepareTransfers([move("snap-4", 3_000), move("snap-5", 1_000)], await readAccountsByCodes(db, [a.code, b.code]));
      expect((await write(fresh)).rows).toEqual([{ ok: true }]);
      expect(await getAccount(db, a.id)).toMatchObject({ balanceFen: 0 });
      expect(await getAccount(db, b.id)).toMatchObject({ balanceFen: 10_000 });
      expect(await verifyLedger(db)).toEqual([]);
    });
  });
}

ledgerSpecification("PostgreSQL", () => createTestDatabase({ poolMax: 20 }), 240);
ledgerSpecification("PGlite (embedded)", () => createEmbeddedTestDatabase(), 200);

describe("ledger verification", () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await createTestDatabase();
  });
  afterAll(async () => {
    await handle?.close();
  });

  it("reports a stored balance that no longer matches its transfers", async () => {
    const w = await walletWithFunds(handle.db, 1_000, "tamper");
    expect(await verifyLedger(handle.db)).toEqual([]);
    await handle.db.updateTable("ledger_accounts").set({ credits_posted_fen: 1_500 }).where("id", "=", w.id).execute();
    const violations = await verifyLedger(handle.db);
    expect(violations.map((v) => v.check)).toEqual(
      expect.arrayContaining(["stored_totals_match_transfers", "debits_equal_credits"]),
    );
    expect(violations.find((v) => v.check === "stored_totals_match_transfers")?.detail).toContain(w.code);
  });

  it("reports an overdrawn account even when the table's own check was removed", async () => {
    const w = await walletWithFunds(handle.db, 100, "overdrawn");
    await sql`alter table ledger_accounts drop constraint ledger_accounts_debits_le_credits`.execute(handle.db);
    await handle.db.updateTable("ledger_accounts").set({ debits_posted_fen: 500 }).where("id", "=", w.id).execute();
    const checks = (await verifyLedger(handle.db)).map((v) => v.check);
    expect(checks).toContain("no_overdraft");
  });

  it("refuses to write an overdrawn wallet row whatever the code does", async () => {
    const fresh = await createTestDatabase({ poolMax: 2 });
    try {
      const w = await walletWithFunds(fresh.db, 100, "check");
      await expect(
        fresh.db.updateTable("ledger_accounts").set({ debits_posted_fen: 101 }).where("id", "=", w.id).execute(),
      ).rejects.toThrow(/ledger_accounts_debits_le_credits/);
      const clearing = await ensureAccount(fresh.db, { kind: "gateway_clearing", organizationId: null });
      expect(clearing.balanceFen).toBe(100);
    } finally {
      await fresh.close();
    }
  });
});
