import { sql } from "kysely";
import type { Db } from "../../db";
import { applyForOrderFinancing } from "../../app/domain/financing/applications.server";
import { accountCodes } from "../../app/domain/financing/internal.server";
import { confirmedOrder, financingWorld, runFinancingJobs } from "../integration/financing.fixtures";

/**
 * Many loans quickly, for the accrual benchmark and the daily run's fault test: one loan made
 * through the domain (the template), then N copies of its rows by set-based SQL — its application
 * (no order, no facility holds), the loan, its instalments, its three receivable accounts and its
 * disbursement transfer (each copy debits its own loans_receivable and credits the template's payee
 * wallet, whose total is raised by the sum), so verifyLedger stays clean.
 */

export interface Template {
  applicationId: string;
  loanId: string;
  principalFen: number;
}

/** The loan every other is a copy of: made through the domain, disbursed on `businessDate`. */
export async function templateLoan(db: Db, businessDate: string): Promise<Template> {
  const at = new Date(`${businessDate}T10:00:00+08:00`);
  const w = await financingWorld(db);
  const order = await confirmedOrder(db, w, 5, at); // 5 × ¥1,000: below the product's auto-approval limit
  const app = await applyForOrderFinancing(db, w.asDealer, order.id, at);
  if (app.status !== "approved") throw new Error(`the template application is ${app.status}, not approved`);
  await runFinancingJobs(db, at);
  const loan = await db.selectFrom("loans").select(["id", "principal_fen", "status"]).where("application_id", "=", app.id).executeTakeFirstOrThrow();
  if (loan.status !== "disbursed") throw new Error(`the template loan is ${loan.status}`);
  return { applicationId: app.id, loanId: loan.id, principalFen: loan.principal_fen };
}

/** `insert into <table> select <every column, some replaced> from <table> t cross join bench_copies c where …`. */
async function copyRows(trx: Db, table: string, replace: Record<string, string>, where: string): Promise<number> {
  const { rows } = await sql<{ column_name: string }>`
    select column_name from information_schema.columns
     where table_schema = 'public' and table_name = ${table} and is_generated = 'NEVER' order by ordinal_position`.execute(trx);
  const columns = rows.map((r) => r.column_name);
  const list = columns.map((c) => `"${c}"`).join(", ");
  const values = columns.map((c) => replace[c] ?? `t."${c}"`).join(", ");
  const result = await sql.raw(`insert into ${table} (${list}) select ${values} from ${table} t cross join bench_copies c where ${where}`).execute(trx);
  return Number(result.numAffectedRows ?? 0);
}

/** N − 1 copies of the template's rows, set-based, ledger consistent (see the header). */
export async function copyLoans(db: Db, t: Template, copies: number): Promise<void> {
  const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
  await db.transaction().execute(async (trx) => {
    await sql`
      create temp table bench_copies on commit drop as
      select g, gen_random_uuid() as app_id, gen_random_uuid() as loan_id, gen_random_uuid() as principal_id,
             gen_random_uuid() as interest_id, gen_random_uuid() as penalty_id, gen_random_uuid() as transfer_id
        from generate_series(1, ${copies}::int) g`.execute(trx);
    const appN = await copyRows(
      trx,
      "loan_applications",
      { id: "c.app_id", number: `t.number || '-' || c.g`, order_id: "null", holds: `'[]'::jsonb` },
      `t.id = ${lit(t.applicationId)}`,
    );
    const loanN = await copyRows(trx, "loans", { id: "c.loan_id", number: `t.number || '-' || c.g`, application_id: "c.app_id", order_id: "null" }, `t.id = ${lit(t.loanId)}`);
    await copyRows(trx, "loan_instalments", { loan_id: "c.loan_id" }, `t.loan_id = ${lit(t.loanId)}`);
    const accountN = await copyRows(
      trx,
      "ledger_accounts",
      {
        id: "case t.kind when 'loans_receivable' then c.principal_id when 'interest_receivable' then c.interest_id else c.penalty_id end",
        code: `replace(t.code, ${lit(t.loanId)}, c.loan_id::text)`,
      },
      `t.code in (${[accountCodes.principal(t.loanId), accountCodes.interest(t.loanId), accountCodes.penalty(t.loanId)].map(lit).join(", ")})`,
    );
    const transferN = await copyRows(
      trx,
      "ledger_transfers",
      {
        id: "c.transfer_id",
        idempotency_key: `replace(t.idempotency_key, ${lit(t.loanId)}, c.loan_id::text)`,
        reference: `replace(t.reference, ${lit(t.loanId)}, c.loan_id::text)`,
        debit_account_id: "c.principal_id",
      },
      `t.idempotency_key = ${lit(`loan:${t.loanId}:disbursement`)}`,
    );
    if (appN !== copies || loanN !== copies || accountN !== 3 * copies || transferN !== copies) {
      throw new Error(`copies: ${appN} applications, ${loanN} loans, ${accountN} accounts, ${transferN} transfers for ${copies}`);
    }
    // The payee's wallet received every copy's principal too.
    await sql`
      update ledger_accounts a set credits_posted_fen = a.credits_posted_fen + ${copies}::bigint * t.amount_fen, version = a.version + 1
        from ledger_transfers t where t.idempotency_key = ${`loan:${t.loanId}:disbursement`} and a.id = t.credit_account_id`.execute(trx);
  });
  await sql`vacuum analyze`.execute(db);
}

