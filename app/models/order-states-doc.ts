import { ORDER_KINDS, ORDER_MACHINES } from "./order-states";

/** docs/order-states.md, written from the state machine itself (a unit test keeps them equal). */
export function orderStatesMarkdown(): string {
  const parts = [
    "# Dealer order states",
    "",
    "Generated from `app/models/order-states.ts` by `npx tsx app/cli/order-states-doc.ts > docs/order-states.md`.",
    "Standard and replenishment orders share one machine. `system` is a workflow step or a schedule.",
  ];
  const seen = new Set<string>();
  for (const kind of ORDER_KINDS) {
    const machine = ORDER_MACHINES[kind];
    const signature = JSON.stringify(machine);
    if (seen.has(signature)) continue;
    seen.add(signature);
    const kinds = ORDER_KINDS.filter((k) => JSON.stringify(ORDER_MACHINES[k]) === signature);
    parts.push("", `## ${kinds.join(", ")}`, "", "| from | event | to | by |", "|---|---|---|---|");
    for (const t of machine) parts.push(`| ${t.from} | ${t.event} | ${t.to} | ${t.by.join(", ")} |`);
  }
  return parts.join("\n") + "\n";
}
