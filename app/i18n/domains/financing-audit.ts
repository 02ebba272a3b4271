import type { EnFor } from "./types";

/** Financing in the activity feed: each audit action the financing context writes. */
export const zhCN = {
  "audit.financing.applied": "申请融资",
  "audit.financing.first_approval": "融资初审通过（待复核）",
  "audit.financing.approved": "批准融资",
  "audit.financing.rejected": "拒绝融资申请",
  "audit.financing.withdrawn": "撤回融资申请",
  "audit.financing.disbursed": "贷款放款",
  "audit.financing.repaying": "贷款进入还款期",
  "audit.financing.fell_overdue": "贷款逾期",
  "audit.financing.repaid": "贷款还款",
  "audit.financing.reclassified": "调整贷款五级分类",
  "audit.financing.guarantee_called": "核心企业履行担保（回购）",
  "audit.financing.written_off": "贷款核销",
  "audit.financing.facility_set": "设置授信额度",
  "audit.financing.lpr_recorded": "登记 LPR",
  "audit.financing.product_created": "新建贷款产品",
  "audit.order.financing_declined": "融资未获批，订单恢复待付款",
} as const;

export const en: EnFor<typeof zhCN> = {
  "audit.financing.applied": "Applied for financing",
  "audit.financing.first_approval": "Financing approved once (second approval needed)",
  "audit.financing.approved": "Financing approved",
  "audit.financing.rejected": "Financing application rejected",
  "audit.financing.withdrawn": "Financing application withdrawn",
  "audit.financing.disbursed": "Loan paid out",
  "audit.financing.repaying": "Loan started repaying",
  "audit.financing.fell_overdue": "Loan fell overdue",
  "audit.financing.repaid": "Loan repayment",
  "audit.financing.reclassified": "Loan class changed",
  "audit.financing.guarantee_called": "Guarantee called (buy-back)",
  "audit.financing.written_off": "Loan written off",
  "audit.financing.facility_set": "Credit facility set",
  "audit.financing.lpr_recorded": "LPR recorded",
  "audit.financing.product_created": "Loan product created",
  "audit.order.financing_declined": "Financing declined: the order waits for payment again",
};
