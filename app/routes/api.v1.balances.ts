import { getBalances } from "~/api/contracts/buying";
import { apiRoute, implement } from "~/api/handler.server";
import { payerBalances } from "~/api/balances.server";

/** `GET /api/v1/balances` — contracts/buying.ts. Only the acting organisation's own accounts. */
export const { loader, action } = apiRoute(
  implement(getBalances, async ({ principal, db }) => {
    const now = new Date();
    const b = await payerBalances(db, principal.organization, now);
    return {
      as_of: now.toISOString(),
      wallet: { balance_fen: b.wallet.balanceFen, held_fen: b.wallet.heldFen, available_fen: b.wallet.availableFen },
      credit_lines: b.creditLines.map((c) => ({
        supplier: { id: c.coreEnterpriseId, name: c.coreName },
        link_status: c.linkStatus,
        limit_fen: c.limitFen,
        used_fen: c.usedFen,
        held_fen: c.heldFen,
        available_fen: c.availableFen,
        overdue_fen: c.overdueFen,
        overdue_orders: c.overdueOrders,
      })),
    };
  }),
);
