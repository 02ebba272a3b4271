import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// Repayment of a loan by e-Pay (issue 14): a payment's purpose may be `loan_repayment`. The
// captured money is committed to the loan in the capture's own transaction (decision 021), like
// an order's. The CHECK is read live and widened (as 0015 and 0018 do for the inbox's topics),
// not restated, so a purpose another migration added is kept.

const PURPOSES = ["loan_repayment"];

async function setPaymentPurposes(db: Kysely<unknown>, change: (purposes: string[]) => string[]): Promise<void> {
  const { rows } = await sql<{ conname: string; def: string }>`
    select conname, pg_get_constraintdef(oid) as def from pg_constraint
     where conrelid = 'payments'::regclass and contype = 'c' and pg_get_constraintdef(oid) like '%purpose%'
       and pg_get_constraintdef(oid) not like '%purpose_outcome%'`.execute(db);
  if (rows.length !== 1) throw new Error(`0026_loan_repayment_purpose: expected one purpose CHECK on payments, found ${rows.length}`);
  const current = rows[0];
  const purposes = [...current.def.matchAll(/'([^']+)'/g)].map((m) => m[1]);
  const next = [...new Set(change(purposes))];
  for (const purpose of next) {
    if (!/^[a-z_]+$/.test(purpose)) throw new Error(`0026_loan_repayment_purpose: unexpected purpose ${purpose}`);
  }
  await sql`alter table payments drop constraint ${sql.id(current.conname)}`.execute(db);
  await sql`alter table payments add constraint ${sql.id(current.conname)} check (purpose in (${sql.join(next.map((p) => sql.lit(p)))}))`.execute(db);
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await setPaymentPurposes(db, (purposes) => [...purposes, ...PURPOSES]);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  // A payment is money that moved through the ledger: never deleted to make a migration go down.
  const { rows } = await sql<{ n: string }>`select count(*) as n from payments where purpose = 'loan_repayment'`.execute(db);
  if (Number(rows[0]?.n ?? 0) > 0) throw new Error("0026_loan_repayment_purpose: payments with purpose loan_repayment exist; cannot go down");
  await setPaymentPurposes(db, (purposes) => purposes.filter((p) => !PURPOSES.includes(p)));
}
