import { rolesCell } from "../shared";
import { APPLICATION_EVENT_ROLES, APPLICATION_MACHINE, HOLDING_APPLICATION_STATUSES, LOAN_EVENT_ROLES, LOAN_MACHINE, OPEN_LOAN_STATUSES } from "./states";

/** docs/financing-states.md, written from the state tables themselves (a unit test keeps them equal). */
export function financingStatesMarkdown(): string {
  const parts = [
    "# Financing states",
    "",
    "Generated from `app/domain/financing/states.ts` by `npx tsx app/cli/order-states-doc.ts financing > docs/financing-states.md`.",
    "`borrower` is the borrowing organisation, `bank` the bank's staff, `system` a workflow step (the checks, the",
    "disbursement, the daily run, the guarantee call). `roles` is who may fire the event, per party (any one of them):",
    "`APPLICATION_EVENT_ROLES` and `LOAN_EVENT_ROLES`, read by `app/domain/identity/permissions.ts` for pages and API.",
    "",
    "## Loan application",
    "",
    "| from | event | to | by | when | roles |",
    "|---|---|---|---|---|---|",
    ...APPLICATION_MACHINE.map((t) => `| ${t.from} | ${t.event} | ${t.to} | ${t.by.join(", ")} | ${t.when ?? ""} | ${rolesCell(APPLICATION_EVENT_ROLES[t.event], t.by)} |`),
    "",
    `Holding the amount on the limits (pending ledger transfers): ${HOLDING_APPLICATION_STATUSES.join(", ")}.`,
    "",
    "## Loan",
    "",
    "| from | event | to | by | roles |",
    "|---|---|---|---|---|",
    ...LOAN_MACHINE.map((t) => `| ${t.from} | ${t.event} | ${t.to} | ${t.by.join(", ")} | ${rolesCell(LOAN_EVENT_ROLES[t.event], t.by)} |`),
    "",
    `Open (accrued daily, principal held on the limits): ${OPEN_LOAN_STATUSES.join(", ")}.`,
  ];
  return parts.join("\n") + "\n";
}
