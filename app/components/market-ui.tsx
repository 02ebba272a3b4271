import { NavLink } from "@remix-run/react";
import { translateDynamic } from "~/i18n";
import { useLocale, useT } from "~/i18n/react";

/** A market, stall, merchant or application status as a coloured tag (`market.state.<status>`). */
export function MarketStateTag({ state }: { state: string }) {
  const locale = useLocale();
  return <span className={`sc-state ${state}`}>{translateDynamic(locale, `market.state.${state}`, state)}</span>;
}

/** The three pages of one market. */
export function MarketTabs({ marketId }: { marketId: string }) {
  const t = useT();
  const base = `/markets/${marketId}`;
  return (
    <nav className="sc-toolbar" aria-label={t("market.settings")}>
      <NavLink to={base} end>
        {t("market.tab.overview")}
      </NavLink>
      <NavLink to={`${base}/applications`}>{t("market.tab.applications")}</NavLink>
      <NavLink to={`${base}/fees`}>{t("market.tab.fees")}</NavLink>
    </nav>
  );
}
