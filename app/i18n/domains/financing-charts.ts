import type { EnFor } from "./types";

/** The bank's portfolio chart on the financing console: outstanding and overdue principal over time. */
export const zhCN = {
  "financing.chart.title": "贷款余额与逾期余额走势",
  "financing.chart.desc": "{from} 至 {to} 每日日终贷款本金余额（蓝线）与其中逾期部分（红色面积）。{to} 余额 {outstanding}，其中逾期 {overdue}。",
  "financing.chart.outstanding": "贷款余额",
  "financing.chart.overdue": "逾期余额",
  "financing.chart.interest": "当日计提利息",
  "financing.chart.date": "日期",
  "financing.chart.amountAxis": "金额（元）",
  "financing.chart.tableCaption": "每日贷款余额、逾期余额与计提利息",
  "financing.chart.empty": "区间内没有贷款余额",
} as const;

export const en: EnFor<typeof zhCN> = {
  "financing.chart.title": "Outstanding and overdue principal over time",
  "financing.chart.desc": "Principal outstanding at the end of each day (blue line) and the overdue part of it (red area), {from} to {to}. On {to}: {outstanding} outstanding, of which {overdue} overdue.",
  "financing.chart.outstanding": "Outstanding",
  "financing.chart.overdue": "Overdue",
  "financing.chart.interest": "Interest accrued",
  "financing.chart.date": "Date",
  "financing.chart.amountAxis": "Amount (CNY)",
  "financing.chart.tableCaption": "Outstanding, overdue and interest accrued by day",
  "financing.chart.empty": "No principal outstanding in this period",
};
