import * as orders from "./orders";
import * as supply from "./supply";
import * as recruitment from "./recruitment";
import * as api from "./api";
import * as market from "./market";
import * as marketListings from "./market-listings";
import * as marketTrade from "./market-trade";
import * as marketDashboard from "./market-dashboard";
import * as accounts from "./accounts";
import * as payments from "./payments";
import * as notices from "./notices";
import * as financing from "./financing";
import * as financingLoans from "./financing-loans";
import * as financingAudit from "./financing-audit";
import * as financingScorecard from "./financing-scorecard";
import * as financingCreditLine from "./financing-credit-line";
import * as financingAdmin from "./financing-admin";
import * as financingCharts from "./financing-charts";
import * as financingReceivables from "./financing-receivables";
import * as settlement from "./settlement";
import * as payouts from "./payouts";
import * as reconciliation from "./reconciliation";

/**
 * The per-context catalogues, merged. To add a context: create `<context>.ts` exporting `zhCN`
 * (`as const`) and `en` typed as `EnFor<typeof zhCN>`, and spread both here.
 */
export const domainZhCN = { ...orders.zhCN, ...supply.zhCN, ...recruitment.zhCN, ...api.zhCN, ...market.zhCN, ...marketListings.zhCN, ...marketTrade.zhCN, ...marketDashboard.zhCN, ...accounts.zhCN, ...payments.zhCN, ...notices.zhCN, ...financing.zhCN, ...financingLoans.zhCN, ...financingAudit.zhCN, ...financingScorecard.zhCN, ...financingCreditLine.zhCN, ...financingAdmin.zhCN, ...financingCharts.zhCN, ...financingReceivables.zhCN, ...settlement.zhCN, ...payouts.zhCN, ...reconciliation.zhCN } as const;
export const domainEn: { readonly [K in keyof typeof domainZhCN]: string } = { ...orders.en, ...supply.en, ...recruitment.en, ...api.en, ...market.en, ...marketListings.en, ...marketTrade.en, ...marketDashboard.en, ...accounts.en, ...payments.en, ...notices.en, ...financing.en, ...financingLoans.en, ...financingAudit.en, ...financingScorecard.en, ...financingCreditLine.en, ...financingAdmin.en, ...financingCharts.en, ...financingReceivables.en, ...settlement.en, ...payouts.en, ...reconciliation.en };
