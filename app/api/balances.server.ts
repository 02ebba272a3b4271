import type { Db } from "../../db";
import type { OrganizationKind } from "../../db/schema";
import { creditLineCodes } from "../domain/credit";
import { listSuppliersForDealer } from "../domain/dealers";
import { accountCode, readAccountsByCodes, type Fen } from "../domain/ledger";
import { onAccountPosition } from "../domain/orders";
import { shanghaiDate } from "../domain/shared";

/**
 * A payer's own balances, read (never copied) from the ledger: its wallet, and for a dealer each
 * credit line with what is used, held and overdue. Tenancy: only the acting organisation's own
 * accounts are read — the caller passes its own id, and nothing here takes another.
 */

export interface WalletBalance {
  balanceFen: Fen;
  heldFen: Fen;
  availableFen: Fen;
}

export interface CreditLineBalance {
  coreEnterpriseId: string;
  coreName: string;
  linkStatus: string;
  limitFen: Fen;
  /** Charged on account, not yet repaid (the receivable). */
  usedFen: Fen;
  /** Held for orders submitted on account, not yet confirmed. */
  heldFen: Fen;
  availableFen: Fen;
  overdueFen: Fen;
  overdueOrders: number;
}

export interface Balances {
  wallet: WalletBalance;
  creditLines: CreditLineBalance[];
}

export async function payerBalances(db: Db, organization: { id: string; kind: OrganizationKind }, now: Date): Promise<Balances> {
  const walletCode = accountCode({ kind: "wallet", organizationId: organization.id });
  const suppliers = organization.kind === "dealer" ? await listSuppliersForDealer(db, organization.id) : [];
  const accounts = (await readAccountsByCodes(db, [walletCode, ...creditLineCodes(suppliers.map((s) => s.linkId))])).byCode();
  const wallet = accounts.get(walletCode);
  const today = shanghaiDate(now);
  const creditLines: CreditLineBalance[] = [];
  for (const s of suppliers) {
    const credit = accounts.get(`trade_credit:${s.linkId}`);
    const receivable = accounts.get(`trade_receivable:${s.linkId}`);
    // A line never given a limit has no accounts yet: all zero.
    const usedFen = receivable?.balanceFen ?? 0;
    const position = await onAccountPosition(db, { coreEnterpriseId: s.coreEnterpriseId, dealerId: organization.id, today });
    creditLines.push({
      coreEnterpriseId: s.coreEnterpriseId,
      coreName: s.coreName,
      linkStatus: s.status,
      limitFen: (credit?.balanceFen ?? 0) + usedFen,
      usedFen,
      heldFen: credit?.pendingFen ?? 0,
      availableFen: credit?.availableFen ?? 0,
      overdueFen: position.overdueFen,
      overdueOrders: position.overdueCount,
    });
  }
  return {
    wallet: { balanceFen: wallet?.balanceFen ?? 0, heldFen: wallet?.pendingFen ?? 0, availableFen: wallet?.availableFen ?? 0 },
    creditLines,
  };
}
