import { rolesCell } from "../shared";
import { ORDER_EVENT_ROLES, ORDER_KINDS, ORDER_MACHINES, ORDER_STATUSES, STATUS_HOLDS } from "./states";

/** docs/order-states.md, written from the state machine itself (a unit test keeps them equal). */
export function orderStatesMarkdown(): string {
  const parts = [
    "# Dealer order states",
    "",
    "Generated from `app/domain/orders/states.ts` by `npx tsx app/cli/order-states-doc.ts > docs/order-states.md`.",
    "Standard and replenishment orders share one machine. `system` is a workflow step or a schedule.",
    "`roles` is who may fire the event, per party (any one of the roles; a viewer never): `ORDER_EVENT_ROLES`, read by",
    "`app/domain/identity/permissions.ts` for both pages and API. A member without one of them gets 403 naming them.",
    "`holds` is what an order holds in a status, and what closing it from there gives back (`STATUS_HOLDS`): `stock`, units",
    "reserved for its confirmed lines; `credit`, for an order submitted on account, its total held on the dealer's credit line.",
  ];
  const seen = new Set<string>();
  for (const kind of ORDER_KINDS) {
    const machine = ORDER_MACHINES[kind];
    const signature = JSON.stringify([machine, STATUS_HOLDS[kind]]);
    if (seen.has(signature)) continue;
    seen.add(signature);
    const kinds = ORDER_KINDS.filter((k) => JSON.stringify([ORDER_MACHINES[k], STATUS_HOLDS[k]]) === signature);
    parts.push("", `## ${kinds.join(", ")}`, "", "| from | event | to | by | roles |", "|---|---|---|---|---|");
    for (const t of machine) parts.push(`| ${t.from} | ${t.event} | ${t.to} | ${t.by.join(", ")} | ${rolesCell(ORDER_EVENT_ROLES[t.event], t.by)} |`);
    const holding = ORDER_STATUSES.filter((status) => STATUS_HOLDS[kind][status].stock || STATUS_HOLDS[kind][status].credit);
    if (holding.length) {
      parts.push("", "| status | holds |", "|---|---|");
      for (const status of holding) {
        const { stock, credit } = STATUS_HOLDS[kind][status];
        parts.push(`| ${status} | ${[stock ? "stock" : "", credit ? "credit" : ""].filter(Boolean).join(", ")} |`);
      }
    }
  }
  return parts.join("\n") + "\n";
}
