import { NavLink } from "@remix-run/react";
import { translateDynamic } from "~/i18n";
import { useLocale, useT } from "~/i18n/react";

/** A market, stall, merchant or application status as a coloured tag (`market.state.<status>`). */
export function MarketStateTag({ state }: { state: string }) {
  const locale = useLocale();
  return <span className={`sc-state ${state}`}>{translateDynamic(locale, `market.state.${state}`, state)}</span>;
}

/** The pages of one market. */
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
      <NavLink to={`${base}/listings`}>{t("market.tab.listings")}</NavLink>
      <NavLink to={`${base}/orders`}>{t("market.tab.orders")}</NavLink>
      <NavLink to={`${base}/disputes`}>{t("market.tab.disputes")}</NavLink>
      <NavLink to={`${base}/announcements`}>{t("market.tab.announcements")}</NavLink>
      <NavLink to={`${base}/dashboard`}>{t("market.tab.dashboard")}</NavLink>
    </nav>
  );
}
