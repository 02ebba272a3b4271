import { useLocale, useT } from "~/i18n/react";
import { formatDate } from "~/i18n";

/** The explanation of a resolved price, as the pricing model returns it (serialisable). */
export type ExplanationView =
  | { rule: "dealer_override"; validFrom: string; validTo: string | null; note: string }
  | { rule: "volume_break" | "tier_price"; priceListName: string; tierName: string; minQty: number; validFrom: string; validTo: string | null }
  | {
      rule: "base_price";
      reason: "no_tier" | "no_price_list" | "not_in_price_list" | "below_first_break";
      tierName: string | null;
      priceListName: string | null;
      firstBreakQty: number | null;
    };

/** "Why this price", in the reader's language. */
export function PriceExplanation({ explanation, unit }: { explanation: ExplanationView; unit: string }) {
  const t = useT();
  const locale = useLocale();
  const open = t("pricing.openEnded");
  switch (explanation.rule) {
    case "dealer_override":
      return (
        <span>
          {t("pricing.why.override", { from: formatDate(explanation.validFrom, locale), to: explanation.validTo ? formatDate(explanation.validTo, locale) : open })}
          {explanation.note ? ` ${t("pricing.why.note", { note: explanation.note })}` : null}
        </span>
      );
    case "volume_break":
      return <span>{t("pricing.why.break", { tier: explanation.tierName, list: explanation.priceListName, qty: explanation.minQty, unit, from: formatDate(explanation.validFrom, locale), to: explanation.validTo ? formatDate(explanation.validTo, locale) : open })}</span>;
    case "tier_price":
      return <span>{t("pricing.why.tier", { tier: explanation.tierName, list: explanation.priceListName, from: formatDate(explanation.validFrom, locale), to: explanation.validTo ? formatDate(explanation.validTo, locale) : open })}</span>;
    case "base_price":
      switch (explanation.reason) {
        case "no_tier":
          return <span>{t("pricing.why.noTier")}</span>;
        case "no_price_list":
          return <span>{t("pricing.why.noList", { tier: explanation.tierName ?? "" })}</span>;
        case "not_in_price_list":
          return <span>{t("pricing.why.notInList", { list: explanation.priceListName ?? "" })}</span>;
        case "below_first_break":
          return <span>{t("pricing.why.belowBreak", { list: explanation.priceListName ?? "", qty: explanation.firstBreakQty ?? 0, unit })}</span>;
      }
  }
}
