import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { financingStatesMarkdown } from "../../app/domain/financing/states-doc";
import { APPLICATION_MACHINE, APPLICATION_STATUSES, LOAN_MACHINE, availableApplicationEvents, findApplicationTransition } from "../../app/domain/financing/states";

describe("financing state machines", () => {
  it("are documented exactly as the tables say", () => {
    expect(readFileSync(new URL("../../docs/financing-states.md", import.meta.url), "utf8")).toBe(financingStatesMarkdown());
  });

  it("have one target per state, event and guard, and nothing leaves a closed application or loan", () => {
    const keys = APPLICATION_MACHINE.map((t) => `${t.from}:${t.event}:${t.when ?? ""}`);
    expect(new Set(keys).size).toBe(keys.length);
    const loanKeys = LOAN_MACHINE.map((t) => `${t.from}:${t.event}`);
    expect(new Set(loanKeys).size).toBe(loanKeys.length);
    for (const closed of ["rejected", "withdrawn", "disbursed"] as const) expect(APPLICATION_MACHINE.filter((t) => t.from === closed)).toEqual([]);
    for (const closed of ["repaid", "written_off"]) expect(LOAN_MACHINE.filter((t) => t.from === closed)).toEqual([]);
    expect(APPLICATION_STATUSES).toContain("awaiting_second_approval");
  });

  it("lets a bank officer's approval go to a second approver only above the limit", () => {
    expect(findApplicationTransition("applied", "approve", "within_second_approver_limit")?.to).toBe("approved");
    expect(findApplicationTransition("applied", "approve", "above_second_approver_limit")?.to).toBe("awaiting_second_approval");
    expect(findApplicationTransition("awaiting_second_approval", "approve")).toBeUndefined();
    expect(availableApplicationEvents("applied", "bank")).toEqual(["approve", "reject"]);
    expect(availableApplicationEvents("applied", "borrower")).toEqual(["withdraw"]);
  });
});
