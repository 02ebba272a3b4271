import { listProducts } from "~/api/contracts/financing";
import { apiRoute, implement } from "~/api/handler.server";
import * as Financing from "~/domain/financing";

/** `GET /api/v1/financing/products` — contracts/financing.ts. */
export const { loader, action } = apiRoute(
  implement(listProducts, async ({ db }) => ({
    data: (await Financing.listProducts(db, { activeOnly: true })).map((p) => ({
      id: p.id,
      code: p.code,
      name: p.name,
      name_en: p.name_en,
      kind: p.kind,
      rate_basis: p.rate_basis,
      spread_bps: p.spread_bps,
      fixed_rate_ppm: p.fixed_rate_ppm,
      repayment_method: p.repayment_method,
      term_days: p.term_days,
      term_months: p.term_months,
      penalty_markup_bps: p.penalty_markup_bps,
      grace_days: p.grace_days,
      auto_approve_limit_fen: p.auto_approve_limit_fen,
      second_approver_limit_fen: p.second_approver_limit_fen,
      min_amount_fen: p.min_amount_fen,
      max_amount_fen: p.max_amount_fen,
      allocation_order: p.allocation_order as Financing.AllocationComponent[],
    })),
  })),
);
