import { createPriceQuote } from "~/api/contracts/pricing";
import { ApiError, apiRoute, implement } from "~/api/handler.server";
import { resolveSkuLines, skuLineFieldNames } from "~/api/sku-lines.server";
import { getSupplierForDealer } from "~/domain/dealers";
import { DomainError, shanghaiDate } from "~/domain/shared";
import { quotePrices } from "~/domain/pricing";

/** `POST /api/v1/price-quotes` — contracts/pricing.ts. */
export const { loader, action } = apiRoute(
  implement(
    createPriceQuote,
    async ({ principal, body, db }) => {
      const self = principal.organization.id;
      let coreId: string;
      let dealerId: string;
      if (principal.organization.kind === "dealer") {
        if (!body.core_enterprise_id) throw new ApiError(422, "validation", "Name the supplier in core_enterprise_id", { core_enterprise_id: "required" });
        if (body.dealer_id && body.dealer_id !== self) throw new DomainError("not_found", "Dealer not found");
        coreId = body.core_enterprise_id;
        dealerId = self;
        // Before any SKU is looked up: a stranger's catalogue must not answer "unknown SKU".
        await getSupplierForDealer(db, dealerId, coreId);
      } else {
        if (!body.dealer_id) throw new ApiError(422, "validation", "Name the dealer in dealer_id", { dealer_id: "required" });
        if (body.core_enterprise_id && body.core_enterprise_id !== self) throw new DomainError("not_found", "Core enterprise not found");
        coreId = self;
        dealerId = body.dealer_id;
      }
      const lines = await resolveSkuLines(db, coreId, body.lines);
      const now = new Date();
      const quotes = await quotePrices(db, { coreEnterpriseId: coreId, dealerId, lines, on: now });
      const data = quotes.map((q, i) => ({
        sku_id: q.skuId,
        sku_code: lines[i].code,
        quantity: q.quantity,
        unit_price_fen: q.unitPriceFen,
        amount_fen: q.unitPriceFen * q.quantity,
        base_price_fen: q.basePriceFen,
        tax_rate_bps: q.taxRateBps,
        rule: q.rule,
        summary: q.summary,
      }));
      return {
        dealer_id: dealerId,
        core_enterprise_id: coreId,
        priced_on: shanghaiDate(now),
        total_fen: data.reduce((sum, l) => sum + l.amount_fen, 0),
        data,
      };
    },
    { fieldNames: skuLineFieldNames({ dealerId: "dealer_id" }) },
  ),
);
