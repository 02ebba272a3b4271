import { sql, type Kysely } from "kysely";

// Migrations are data: never edit this file after it has landed; add a new one.
//
// Financing (issue 14, decision 024). Every amount owed and every limit is in the ledger; these
// tables carry what the ledger cannot: products and rates, who guarantees whom, applications and
// their checks, each loan's contract terms and schedule, the daily accrual (one row per loan and
// business date: the primary key is what makes a rerun post nothing), repayments and a timeline.

export async function up(db: Kysely<unknown>): Promise<void> {
  // Numbers people read out on the phone: FA-/LN-<business date>-<sequence>.
  await sql`create sequence loan_application_numbers`.execute(db);
  await sql`create sequence loan_numbers`.execute(db);
  await sql`
    create table lpr_rates (
      id uuid primary key default gen_random_uuid(),
      rate_ppm integer not null check (rate_ppm > 0 and rate_ppm < 1000000),
      effective_on date not null unique,
      created_by_user_id uuid references users(id),
      created_at timestamptz not null default now()
    )`.execute(db);

  await sql`
    create table loan_products (
      id uuid primary key default gen_random_uuid(),
      code text not null unique check (code ~ '^[A-Z0-9_-]{2,40}$'),
      name text not null check (length(name) between 1 and 100),
      name_en text not null check (length(name_en) between 1 and 100),
      kind text not null check (kind in ('order_financing','receivables','credit_line')),
      rate_basis text not null check (rate_basis in ('lpr','fixed')),
      spread_bps integer not null default 0 check (spread_bps between -10000 and 10000),
      fixed_rate_ppm integer check (fixed_rate_ppm is null or fixed_rate_ppm between 0 and 1000000),
      repayment_method text not null check (repayment_method in ('bullet','interest_monthly','equal_principal','equal_instalment')),
      term_days integer check (term_days is null or term_days between 1 and 3650),
      term_months integer check (term_months is null or term_months between 1 and 360),
      penalty_markup_bps integer not null default 5000 check (penalty_markup_bps between 0 and 10000),
      grace_days integer not null default 0 check (grace_days between 0 and 30),
      auto_approve_limit_fen bigint not null check (auto_approve_limit_fen >= 0),
      second_approver_limit_fen bigint not null check (second_approver_limit_fen >= auto_approve_limit_fen),
      advance_rate_bps integer check (advance_rate_bps is null or advance_rate_bps between 1 and 10000),
      min_amount_fen bigint not null check (min_amount_fen > 0),
      max_amount_fen bigint not null check (max_amount_fen >= min_amount_fen),
      allocation_order text[] not null,
      status text not null default 'active' check (status in ('active','retired')),
      created_at timestamptz not null default now(),
      constraint loan_products_rate check ((rate_basis = 'fixed') = (fixed_rate_ppm is not null)),
      constraint loan_products_term check ((term_days is null) <> (term_months is null)),
      constraint loan_products_days_bullet_only check (term_days is null or repayment_method = 'bullet')
    )`.execute(db);

  await sql`
    create table financing_facilities (
      id uuid primary key default gen_random_uuid(),
      kind text not null check (kind in ('borrower_limit','guarantee','guarantee_sub')),
      product_id uuid references loan_products(id),
      borrower_organization_id uuid references organizations(id),
      guarantor_organization_id uuid references organizations(id),
      parent_facility_id uuid references financing_facilities(id),
      buy_back_days integer check (buy_back_days is null or buy_back_days between 1 and 365),
      valid_to date not null,
      status text not null default 'active' check (status in ('active','suspended')),
      approved_by_user_id uuid references users(id),
      created_at timestamptz not null default now(),
      constraint financing_facilities_shape check (
        (kind = 'borrower_limit' and product_id is not null and borrower_organization_id is not null and guarantor_organization_id is null and parent_facility_id is null)
        or (kind = 'guarantee' and guarantor_organization_id is not null and borrower_organization_id is null and parent_facility_id is null and buy_back_days is not null)
        or (kind = 'guarantee_sub' and guarantor_organization_id is not null and borrower_organization_id is not null and parent_facility_id is not null)
      )
    )`.execute(db);
  // One limit per borrower and product, one agreement per guarantor, one sub-limit per dealer.
  await sql`create unique index financing_facilities_one_limit on financing_facilities (borrower_organization_id, product_id) where kind = 'borrower_limit'`.execute(db);
  await sql`create unique index financing_facilities_one_agreement on financing_facilities (guarantor_organization_id) where kind = 'guarantee'`.execute(db);
  await sql`create unique index financing_facilities_one_sub on financing_facilities (parent_facility_id, borrower_organization_id) where kind = 'guarantee_sub'`.execute(db);

  await sql`
    create table loan_applications (
      id uuid primary key default gen_random_uuid(),
      number text not null unique,
      product_id uuid not null references loan_products(id),
      borrower_organization_id uuid not null references organizations(id),
      guarantor_organization_id uuid references organizations(id),
      order_id uuid references orders(id),
      amount_fen bigint not null check (amount_fen > 0),
      status text not null default 'applied' check (status in ('applied','awaiting_second_approval','approved','rejected','withdrawn','disbursed')),
      checks jsonb not null default '[]',
      holds jsonb not null default '[]',
      first_approver_user_id uuid references users(id),
      first_approved_at timestamptz,
      decided_by_user_id uuid references users(id),
      decided_at timestamptz,
      reason text check (reason is null or length(reason) between 1 and 500),
      applied_by_user_id uuid references users(id),
      created_at timestamptz not null default now(),
      -- Four eyes, whatever the code does: the deciding officer is not the first signer.
      constraint loan_applications_four_eyes check (first_approver_user_id is null or decided_by_user_id is null or first_approver_user_id <> decided_by_user_id),
      constraint loan_applications_rejected_has_reason check (status <> 'rejected' or reason is not null)
    )`.execute(db);
  // An order is financed at most once at a time: a second live application for it is refused here.
  await sql`create unique index loan_applications_one_live_per_order on loan_applications (order_id) where order_id is not null and status in ('applied','awaiting_second_approval','approved','disbursed')`.execute(db);
  await sql`create index loan_applications_queue on loan_applications (status, created_at)`.execute(db);
  await sql`create index loan_applications_borrower on loan_applications (borrower_organization_id, created_at desc)`.execute(db);

  await sql`
    create table loans (
      id uuid primary key default gen_random_uuid(),
      number text not null unique,
      application_id uuid not null unique references loan_applications(id),
      product_id uuid not null references loan_products(id),
      kind text not null check (kind in ('order_financing','receivables','credit_line')),
      borrower_organization_id uuid not null references organizations(id),
      guarantor_organization_id uuid references organizations(id),
      order_id uuid references orders(id),
      principal_fen bigint not null check (principal_fen > 0),
      annual_rate_ppm integer not null check (annual_rate_ppm between 0 and 1000000),
      penalty_rate_ppm integer not null check (penalty_rate_ppm >= annual_rate_ppm),
      repayment_method text not null,
      grace_days integer not null,
      buy_back_days integer,
      disbursed_on date not null,
      maturity_on date not null check (maturity_on > disbursed_on),
      status text not null default 'disbursed' check (status in ('disbursed','repaying','overdue','repaid','guarantee_called','written_off')),
      days_past_due integer not null default 0 check (days_past_due >= 0),
      rule_class text not null default 'normal' check (rule_class in ('normal','special_mention','substandard','doubtful','loss')),
      officer_class text check (officer_class in ('normal','special_mention','substandard','doubtful','loss')),
      officer_class_reason text,
      accrued_through date,
      closed_on date,
      created_at timestamptz not null default now(),
      constraint loans_officer_class_reason check ((officer_class is null) = (officer_class_reason is null))
    )`.execute(db);
  await sql`create index loans_borrower on loans (borrower_organization_id, created_at desc)`.execute(db);
  await sql`create index loans_guarantor on loans (guarantor_organization_id) where guarantor_organization_id is not null`.execute(db);
  await sql`create index loans_open on loans (id) where status in ('disbursed','repaying','overdue','guarantee_called')`.execute(db);

  await sql`
    create table loan_instalments (
      loan_id uuid not null references loans(id),
      seq integer not null check (seq >= 1),
      period_start_on date not null,
      due_on date not null check (due_on > period_start_on),
      days integer not null check (days > 0),
      principal_fen bigint not null check (principal_fen >= 0),
      interest_fen bigint not null check (interest_fen >= 0),
      principal_paid_fen bigint not null default 0 check (principal_paid_fen between 0 and principal_fen),
      interest_paid_fen bigint not null default 0 check (interest_paid_fen between 0 and interest_fen),
      primary key (loan_id, seq)
    )`.execute(db);

  await sql`
    create table loan_accruals (
      loan_id uuid not null references loans(id),
      business_date date not null,
      interest_fen bigint not null check (interest_fen >= 0),
      penalty_fen bigint not null check (penalty_fen >= 0),
      compound_fen bigint not null check (compound_fen >= 0),
      days_past_due integer not null check (days_past_due >= 0),
      created_at timestamptz not null default now(),
      primary key (loan_id, business_date)
    )`.execute(db);

  await sql`
    create table loan_repayments (
      id uuid primary key default gen_random_uuid(),
      loan_id uuid not null references loans(id),
      idempotency_key text not null unique,
      source text not null check (source in ('wallet','auto_debit','guarantee','debtor_payment','epay')),
      amount_fen bigint not null check (amount_fen > 0),
      allocation jsonb not null,
      paid_on date not null,
      created_by_user_id uuid references users(id),
      created_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index loan_repayments_loan on loan_repayments (loan_id, created_at)`.execute(db);

  await sql`
    create table loan_events (
      id bigserial primary key,
      loan_id uuid references loans(id),
      application_id uuid references loan_applications(id),
      event text not null,
      actor_user_id uuid references users(id),
      detail jsonb not null default '{}',
      at timestamptz not null default now(),
      constraint loan_events_subject check (loan_id is not null or application_id is not null)
    )`.execute(db);
  await sql`create index loan_events_loan on loan_events (loan_id, id) where loan_id is not null`.execute(db);
  await sql`create index loan_events_application on loan_events (application_id, id) where application_id is not null`.execute(db);

  await sql`
    create table accrual_runs (
      business_date date primary key,
      status text not null default 'running' check (status in ('running','done')),
      loans_total integer not null check (loans_total >= 0),
      batches_total integer not null check (batches_total >= 0),
      batches_done integer not null default 0 check (batches_done between 0 and batches_total),
      loans_done integer not null default 0 check (loans_done between 0 and loans_total),
      started_at timestamptz not null default now(),
      finished_at timestamptz,
      constraint accrual_runs_done check ((status = 'done') = (finished_at is not null))
    )`.execute(db);
  await sql`
    create table accrual_run_batches (
      business_date date not null references accrual_runs(business_date),
      batch_no integer not null check (batch_no >= 0),
      loan_ids uuid[] not null,
      done_at timestamptz,
      primary key (business_date, batch_no)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    "accrual_run_batches",
    "accrual_runs",
    "loan_events",
    "loan_repayments",
    "loan_accruals",
    "loan_instalments",
    "loans",
    "loan_applications",
    "financing_facilities",
    "loan_products",
    "lpr_rates",
  ]) {
    await sql`drop table ${sql.table(table)}`.execute(db);
  }
  await sql`drop sequence loan_numbers`.execute(db);
  await sql`drop sequence loan_application_numbers`.execute(db);
}
