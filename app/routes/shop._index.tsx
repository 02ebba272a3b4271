import type { LinksFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { RouteError } from "~/components/route-error";
import { StateTag } from "~/components/supply-ui";
import { formatFen } from "~/i18n";
import { pageTitle } from "~/i18n/meta";
import { useLocale, useT } from "~/i18n/react";
import { listSuppliersForDealer } from "~/domain/dealers";
import { requireDealer } from "~/web/supply-chain-access.server";
import styles from "~/styles/supply.css";

export const links: LinksFunction = () => [{ rel: "stylesheet", href: styles }];
export const meta: MetaFunction = ({ matches }) => pageTitle(matches, "shop.title");

/** The dealer's side: the core enterprises it buys from, each with its terms and credit. */
export async function loader({ request, context }: LoaderFunctionArgs) {
  const { organizationId } = await requireDealer(request, context);
  const suppliers = await listSuppliersForDealer(context.db, organizationId);
  return { suppliers };
}

export default function Shop() {
  const { suppliers } = useLoaderData<typeof loader>();
  const t = useT();
  const locale = useLocale();
  return (
    <div className="sc-page">
      <div className="sc-head">
        <div>
          <p className="eyebrow">{t("shop.eyebrow")}</p>
          <h1>{t("shop.title")}</h1>
          <p className="subtle">{t("shop.intro")}</p>
        </div>
      </div>
      {suppliers.length === 0 ? (
        <section className="panel">
          <p className="empty">{t("shop.empty")}</p>
        </section>
      ) : (
        suppliers.map((s) => (
          <section className="panel" key={s.linkId} data-testid="supplier">
            <div className="sc-supplier">
              <div>
                <h2 style={{ border: 0, margin: 0, padding: 0 }}>{locale === "en" && s.coreNameEn ? s.coreNameEn : s.coreName}</h2>
                <p className="subtle small">
                  {s.tierName ?? t("dealers.noTier")} · {s.region} · {t("dealers.termsDays", { days: s.paymentTermsDays })} <StateTag state={s.status} scope="dealers" />
                </p>
              </div>
              {s.status === "active" ? (
                <Link to={`/shop/${s.coreEnterpriseId}`} className="sc-button">
                  {t("shop.browse")}
                </Link>
              ) : null}
            </div>
            <div className="figures">
              <div className="figure">
                <span className="figure-label">{t("dealers.creditLimit")}</span>
                <span className="figure-value num">{formatFen(s.credit.limitFen, locale)}</span>
              </div>
              <div className="figure">
                <span className="figure-label">{t("dealers.openCredit")}</span>
                <span className="figure-value num">{formatFen(s.credit.usedFen, locale)}</span>
              </div>
              <div className="figure">
                <span className="figure-label">{t("dealers.creditAvailable")}</span>
                <span className="figure-value num">{formatFen(s.credit.availableFen, locale)}</span>
              </div>
            </div>
            {s.status === "suspended" ? <p className="notice">{t("shop.suspended")}</p> : null}
          </section>
        ))
      )}
    </div>
  );
}

export function ErrorBoundary() {
  return <RouteError />;
}
