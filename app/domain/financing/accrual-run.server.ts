import { sql } from "kysely";
import { inTransaction, type Db } from "../../../db";
import { DomainError, SYSTEM_ACTOR, addDays, isBusinessDate, shanghaiDate } from "../shared";
import { requestNotifications, type NotificationRequestInput } from "../notifications";
import { formatFen } from "../../i18n";
import { enqueue, outboxJobId, type OutboxJob, type Trx } from "../outbox";
import { OPEN_LOAN_STATUSES } from "./states";
import { FINANCING_QUEUE } from "./applications.server";
import { accrueLoans, AUTO_DEBIT_JOB, LOAN_LIMITS, repayLoan } from "./loans.server";
import { dateText } from "./internal.server";

/**
 * The daily run (日终计提): for one Shanghai business date, every open loan accrues through it.
 * Its state is in PostgreSQL: a run row per date and a batch row per slice of loans, fixed when the
 * run starts. BullMQ drives it as a flow (decision 024): the start step writes ONE outbox row, the
 * close job, whose children are the batches (workflows/financing.ts derives them from the row's
 * `batchesTotal`); the relay adds parent and children with a FlowProducer, workers run the batches
 * (each accrues its loans exactly once per loan and day, loans.server.ts, and counts itself done),
 * and BullMQ runs the close job once every batch has run: it closes the run and queues the day's
 * auto-debit. The bank's page reads the counters: n of N batches, live.
 */

export const ACCRUAL_START_JOB = "financing.accrual_start";
export const ACCRUAL_BATCH_JOB = "financing.accrual_batch";
export const ACCRUAL_CLOSE_JOB = "financing.accrual_close";

export const ACCRUAL_LIMITS = {
  /**
   * Loans one run may hold: 10,000 batches of 500, the most children one flow may have
   * (FLOW_CHILDREN_MAX, one Redis MULTI); fifty times the benchmark's 100,000 loans.
   */
  maxLoansPerRun: 5_000_000,
  autoDebitBatch: 200,
} as const;

export function accrualBatchJob(businessDate: string, batchNo: number): OutboxJob {
  return {
    queue: FINANCING_QUEUE,
    name: ACCRUAL_BATCH_JOB,
    jobId: outboxJobId("financing-accrual", businessDate, `batch-${batchNo}`),
    payload: { businessDate, batchNo },
  };
}

/** The run's parent job: BullMQ runs it after every batch of `batchesTotal` has run. */
export function accrualCloseJob(businessDate: string, batchesTotal: number): OutboxJob {
  return {
    queue: FINANCING_QUEUE,
    name: ACCRUAL_CLOSE_JOB,
    jobId: outboxJobId("financing-accrual", businessDate, "close"),
    payload: { businessDate, batchesTotal },
  };
}

export function autoDebitJob(businessDate: string): OutboxJob {
  return { queue: FINANCING_QUEUE, name: AUTO_DEBIT_JOB, jobId: outboxJobId("financing-auto-debit", businessDate, "run"), payload: { businessDate } };
}

export interface AccrualRunView {
  businessDate: string;
  status: "running" | "done";
  loansTotal: number;
  loansDone: number;
  batchesTotal: number;
  batchesDone: number;
  startedAt: Date;
  finishedAt: Date | null;
}

/** The business date the schedule runs for: yesterday in Shanghai (a day is accrued once it is over). */
export function accrualDateFor(now: Date): string {
  return addDays(shanghaiDate(now), -1);
}

/**
 * Start the run for `businessDate`, once: a second start finds the run and returns it. The loans
 * are those open and not yet accrued through the date, in id order, cut into batches.
 */
export async function startAccrualRun(db: Db, businessDate: string, now: Date): Promise<AccrualRunView> {
  if (!isBusinessDate(businessDate)) throw new DomainError("validation", "business_date must be a date written YYYY-MM-DD", { business_date: "invalid_date" });
  if (businessDate >= shanghaiDate(now)) throw new DomainError("validation", "A day is accrued once it is over: choose a date before today", { business_date: "not over yet" });
  return inTransaction(db, async (trx) => {
    const inserted = await trx
      .insertInto("accrual_runs")
      .values({ business_date: businessDate, loans_total: 0, batches_total: 0 })
      .onConflict((oc) => oc.column("business_date").doNothing())
      .returning("business_date")
      .executeTakeFirst();
    if (inserted) {
      const loans = await trx
        .selectFrom("loans")
        .select("id")
        .where("status", "in", OPEN_LOAN_STATUSES)
        .where("disbursed_on", "<=", businessDate)
        .where((eb) => eb.or([eb("accrued_through", "is", null), eb("accrued_through", "<", businessDate)]))
        .orderBy("id")
        .limit(ACCRUAL_LIMITS.maxLoansPerRun + 1)
        .execute();
      if (loans.length > ACCRUAL_LIMITS.maxLoansPerRun) throw new DomainError("invalid_state", `More than ${ACCRUAL_LIMITS.maxLoansPerRun} loans in one run`);
      const batches: string[][] = [];
      for (let i = 0; i < loans.length; i += LOAN_LIMITS.accrualBatch) batches.push(loans.slice(i, i + LOAN_LIMITS.accrualBatch).map((l) => l.id));
      if (batches.length > 0) {
        await sql`
          insert into accrual_run_batches (business_date, batch_no, loan_ids)
          select ${businessDate}::date, b.batch_no - 1, array(select jsonb_array_elements_text(b.ids)::uuid)
          from jsonb_array_elements(${JSON.stringify(batches)}::jsonb) with ordinality as b(ids, batch_no)`.execute(trx);
        await enqueue(trx as Trx, accrualCloseJob(businessDate, batches.length));
      }
      const done = batches.length === 0;
      await trx
        .updateTable("accrual_runs")
        .set({ loans_total: loans.length, batches_total: batches.length, ...(done ? { status: "done", finished_at: now } : {}) })
        .where("business_date", "=", businessDate)
        .execute();
      if (done) await enqueue(trx as Trx, autoDebitJob(addDays(businessDate, 1)));
    }
    return (await getAccrualRun(trx, businessDate))!;
  });
}

/**
 * One batch: accrue its loans through the run's date and count it done, in one transaction. The
 * batch row's lock makes a second delivery wait and then find it done.
 */
export async function runAccrualBatch(db: Db, businessDate: string, batchNo: number, now: Date): Promise<{ loans: number; alreadyDone: boolean }> {
  return inTransaction(db, async (trx) => {
    const batch = await trx
      .selectFrom("accrual_run_batches")
      .select(["loan_ids", "done_at"])
      .where("business_date", "=", businessDate)
      .where("batch_no", "=", batchNo)
      .forUpdate()
      .executeTakeFirst();
    if (!batch) throw new DomainError("not_found", `accrual batch ${businessDate}#${batchNo} not found`);
    if (batch.done_at) return { loans: 0, alreadyDone: true };
    const results = await accrueLoans(trx, batch.loan_ids, businessDate, now);
    await trx.updateTable("accrual_run_batches").set({ done_at: now }).where("business_date", "=", businessDate).where("batch_no", "=", batchNo).execute();
    await trx
      .updateTable("accrual_runs")
      .set((eb) => ({ batches_done: eb("batches_done", "+", 1), loans_done: eb("loans_done", "+", batch.loan_ids.length) }))
      .where("business_date", "=", businessDate)
      .execute();
    return { loans: results.length, alreadyDone: false };
  });
}

/**
 * The run's parent job, after its batches: close the run and queue the next day's auto-debit.
 *
 * BullMQ starts it once every child has finished, and a child that exhausted its retries does not
 * hold it back (`ignoreDependencyOnFailure`), so a batch may still be open here: it is run now
 * (the same idempotent step). If it fails again, so does this job, and its outbox row ends listed
 * for a person with the error: the run is never left "running" with nobody told. Closing twice
 * finds the run done and does nothing.
 */
export async function closeAccrualRun(db: Db, businessDate: string, now: Date): Promise<{ closed: boolean; batchesRunHere: number }> {
  const open = await db
    .selectFrom("accrual_run_batches")
    .select("batch_no")
    .where("business_date", "=", businessDate)
    .where("done_at", "is", null)
    .orderBy("batch_no")
    .execute();
  for (const b of open) await runAccrualBatch(db, businessDate, b.batch_no, now);
  return inTransaction(db, async (trx) => {
    const run = await trx.selectFrom("accrual_runs").select(["status", "batches_done", "batches_total"]).where("business_date", "=", businessDate).forUpdate().executeTakeFirst();
    if (!run) throw new DomainError("not_found", `accrual run ${businessDate} not found`);
    if (run.status === "done") return { closed: false, batchesRunHere: open.length };
    // Every batch counted itself done in its own transaction, before this one read the counter.
    if (run.batches_done !== run.batches_total) throw new Error(`accrual run ${businessDate}: ${run.batches_done} of ${run.batches_total} batches done at close`);
    await trx.updateTable("accrual_runs").set({ status: "done", finished_at: now }).where("business_date", "=", businessDate).execute();
    await enqueue(trx as Trx, autoDebitJob(addDays(businessDate, 1)));
    return { closed: true, batchesRunHere: open.length };
  });
}

export async function getAccrualRun(db: Db, businessDate: string): Promise<AccrualRunView | null> {
  const row = await db.selectFrom("accrual_runs").select([dateText("business_date").as("business_date"), "status", "loans_total", "loans_done", "batches_total", "batches_done", "started_at", "finished_at"]).where("business_date", "=", businessDate).executeTakeFirst();
  return row ? toView(row) : null;
}

export async function listAccrualRuns(db: Db, limit = 30): Promise<AccrualRunView[]> {
  const rows = await db.selectFrom("accrual_runs").select([dateText("business_date").as("business_date"), "status", "loans_total", "loans_done", "batches_total", "batches_done", "started_at", "finished_at"]).orderBy("business_date", "desc").limit(limit).execute();
  return rows.map(toView);
}

function toView(row: { business_date: string; status: "running" | "done"; loans_total: number; loans_done: number; batches_total: number; batches_done: number; started_at: Date; finished_at: Date | null }): AccrualRunView {
  return {
    businessDate: row.business_date,
    status: row.status,
    loansTotal: row.loans_total,
    loansDone: row.loans_done,
    batchesTotal: row.batches_total,
    batchesDone: row.batches_done,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

/**
 * Auto-debit (代扣) on `businessDate`: every open loan with something past due or due that day
 * pays from its payer's wallet what the wallet holds, up to what is due. One repayment per loan
 * and date (its idempotency key), each in its own transaction: one empty wallet stops nobody else.
 */
export async function autoDebitDueLoans(db: Db, businessDate: string, now: Date): Promise<{ debited: number; fen: number }> {
  let after: string | null = null;
  let debited = 0;
  let fen = 0;
  for (;;) {
    let q = db
      .selectFrom("loans as l")
      .select("l.id")
      .where("l.status", "in", OPEN_LOAN_STATUSES)
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom("loan_instalments as i")
            .select(sql`1`.as("one"))
            .whereRef("i.loan_id", "=", "l.id")
            .where("i.due_on", "<=", businessDate)
            .where(sql<boolean>`(i.principal_paid_fen < i.principal_fen or i.interest_paid_fen < i.interest_fen)`),
        ),
      )
      .orderBy("l.id")
      .limit(ACCRUAL_LIMITS.autoDebitBatch);
    if (after) q = q.where("l.id", ">", after);
    const loans = await q.execute();
    for (const loan of loans) {
      try {
        const result = await repayLoan(db, SYSTEM_ACTOR, loan.id, { mode: "due", source: "auto_debit", idempotencyKey: `loan:${loan.id}:auto_debit:${businessDate}` }, now);
        if (!result.replayed) {
          debited += 1;
          fen += result.amountFen;
        }
      } catch (error) {
        if (!(error instanceof DomainError && (error.code === "insufficient_funds" || error.code === "invalid_state"))) throw error;
      }
    }
    if (loans.length < ACCRUAL_LIMITS.autoDebitBatch) break;
    after = loans[loans.length - 1]!.id;
  }
  return { debited, fen };
}

/** How far ahead a borrower is told of an instalment, and the most reminders one pass sends. */
export const REMINDER_LIMITS = { daysAhead: 3, perPass: 5_000 } as const;

/**
 * Inbox reminders on `businessDate` (run after that day's auto-debit, so a paid instalment is not
 * reminded): instalments due in three days, due today and still unpaid, and due yesterday and still
 * unpaid (the first overdue day). Each goes to the borrower and, when there is one, the guarantor;
 * the dedupe key (topic, instalment) makes a second pass send nothing again.
 */
export async function sendLoanReminders(db: Db, businessDate: string): Promise<number> {
  const plan = [
    { topic: "loan.due_soon", dueOn: addDays(businessDate, REMINDER_LIMITS.daysAhead) },
    { topic: "loan.due_today", dueOn: businessDate },
    { topic: "loan.overdue", dueOn: addDays(businessDate, -1) },
  ] as const;
  const rows = await db
    .selectFrom("loan_instalments as i")
    .innerJoin("loans as l", "l.id", "i.loan_id")
    .select([
      "l.id",
      "l.number",
      "l.borrower_organization_id",
      "l.guarantor_organization_id",
      "i.seq",
      dateText("i.due_on").as("due_on"),
      sql<number>`i.principal_fen - i.principal_paid_fen + i.interest_fen - i.interest_paid_fen`.as("owed_fen"),
    ])
    .where("l.status", "in", OPEN_LOAN_STATUSES)
    .where("i.due_on", "in", plan.map((p) => p.dueOn))
    .where(sql<boolean>`(i.principal_paid_fen < i.principal_fen or i.interest_paid_fen < i.interest_fen)`)
    .orderBy("l.id")
    .limit(REMINDER_LIMITS.perPass)
    .execute();
  const requests: { actor: typeof SYSTEM_ACTOR; notification: NotificationRequestInput }[] = [];
  for (const r of rows) {
    const topic = plan.find((p) => p.dueOn === r.due_on)!.topic;
    const params = { loanId: r.id, number: r.number, dueOn: r.due_on, amountDisplay: formatFen(Number(r.owed_fen)) };
    for (const organizationId of [r.borrower_organization_id, r.guarantor_organization_id]) {
      if (!organizationId) continue;
      requests.push({ actor: SYSTEM_ACTOR, notification: { organizationId, topic, params, dedupeKey: `${topic}:${r.id}:${r.seq}:${organizationId}` } });
    }
  }
  if (requests.length === 0) return 0;
  const results = await inTransaction(db, (trx) => requestNotifications(trx as Trx, requests));
  return results.filter((r) => r.created).length;
}
