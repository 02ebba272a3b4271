/**
 * Who may fire a transition, as a cell of a generated state-machine table (docs/order-states.md,
 * docs/market-order-states.md). Pure: shared by the two machines' doc writers.
 */

/**
 * The roles that may ask for an event, per party (`dealer: owner, admin, purchaser`), from the role
 * map beside the machine, which pages and API both read (app/domain/identity/permissions.ts). Only the
 * parties the transition is for (a dealer cancels a draft, the supplier does not); an event the
 * system carries out for a party (the market's `pay`) shows the party that asks. `—`: only the system.
 */
export function rolesCell(byParty: Readonly<Record<string, readonly string[] | undefined>>, by: readonly string[]): string {
  const withRoles = Object.entries(byParty).filter((entry): entry is [string, readonly string[]] => Boolean(entry[1]?.length));
  const ours = withRoles.filter(([party]) => by.includes(party));
  const shown = ours.length ? ours : withRoles;
  return shown.length ? shown.map(([party, roles]) => `${party}: ${roles.join(", ")}`).join("; ") : "—";
}
