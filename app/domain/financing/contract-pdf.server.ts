import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import PDFDocument from "pdfkit";
import { SHANGHAI_OFFSET_MS, yuanInWords } from "../shared";
import { ALLOCATION_COMPONENTS, DEFAULT_ALLOCATION_ORDER, assertAllocationOrder, type AllocationComponent } from "./allocation";
import type { LoanDetail } from "./queries.server";
import { TERM_MONTHS_MAX, type RepaymentMethod } from "./schedule";

/**
 * The loan contract summary and repayment schedule (贷款合同要素及还款计划) as a PDF: the terms of
 * the loan, then every instalment of the contract schedule, the table's header repeated on each
 * page, "page n / N" and the generation time in every footer.
 *
 * The labels and number formats live here, not in app/i18n: the domain does not import the web
 * layer, and a document handed to both parties of a contract should read the same whichever page
 * asked for it. Amounts, rates and dates are formatted with integer arithmetic only.
 *
 * Chinese text needs an embedded CJK font: Noto Sans SC from the npm package
 * `@expo-google-fonts/noto-sans-sc` (installed with the project, so every machine has it); pdfkit
 * subsets it to the glyphs used (about 30 KB per document).
 */

export type ContractPdfLocale = "zh-CN" | "en";

export interface ContractPdfOptions {
  locale: ContractPdfLocale;
  generatedAt: Date;
  /** The product's repayment order (the contract's); the default order when not given. */
  allocationOrder?: readonly AllocationComponent[];
}

const FONT_NAME = "NotoSansSC";
const FONT_MODULE = "@expo-google-fonts/noto-sans-sc/400Regular/NotoSansSC_400Regular.ttf";

let fontBytes: Buffer | null = null;

/** The font file (10 MB), read once per process; resolved like a module so it works from the server build and from tests. */
function fontData(): Buffer {
  fontBytes ??= readFileSync(createRequire(import.meta.url).resolve(FONT_MODULE));
  return fontBytes;
}

interface Labels {
  title: string;
  loanNumber: string;
  product: string;
  borrower: string;
  guarantor: string;
  order: string;
  principal: string;
  principalWords: string;
  rate: string;
  penaltyRate: string;
  method: string;
  disbursedOn: string;
  maturityOn: string;
  graceDays: string;
  days: (n: number) => string;
  allocation: string;
  none: string;
  schedule: string;
  continued: string;
  unit: string;
  note: string;
  columns: readonly [string, string, string, string, string, string, string];
  totals: string;
  footer: (page: number, pages: number, at: string) => string;
  methods: Record<RepaymentMethod, string>;
  components: Record<AllocationComponent, string>;
  yuan: (text: string) => string;
}

const LABELS: Record<ContractPdfLocale, Labels> = {
  "zh-CN": {
    title: "贷款合同要素及还款计划",
    loanNumber: "贷款编号",
    product: "贷款产品",
    borrower: "借款人",
    guarantor: "担保人",
    order: "融资订单",
    principal: "贷款本金",
    principalWords: "人民币（大写）",
    rate: "年利率",
    penaltyRate: "罚息年利率",
    method: "还款方式",
    disbursedOn: "放款日",
    maturityOn: "到期日",
    graceDays: "宽限期",
    days: (n) => `${n} 天`,
    allocation: "还款顺序",
    none: "无",
    schedule: "还款计划",
    continued: "（续）",
    unit: "金额单位：元",
    note: "本计划按合同利率编制；逾期后的罚息、复利另行计收。",
    columns: ["期次", "计息期间", "应还日", "天数", "本金", "利息", "合计"],
    totals: "合计",
    footer: (page, pages, at) => `第 ${page} 页 / 共 ${pages} 页\u3000\u3000生成时间 ${at}（北京时间）`,
    methods: { bullet: "到期一次还本付息", interest_monthly: "按月付息，到期还本", equal_principal: "等额本金", equal_instalment: "等额本息" },
    components: {
      penalty: "罚息",
      compound: "复利",
      overdue_interest: "逾期利息",
      overdue_principal: "逾期本金",
      current_interest: "本期利息",
      current_principal: "本期本金",
    },
    yuan: (text) => `¥${text}`,
  },
  en: {
    title: "Loan contract summary and repayment schedule",
    loanNumber: "Loan number",
    product: "Product",
    borrower: "Borrower",
    guarantor: "Guarantor",
    order: "Financed order",
    principal: "Principal",
    principalWords: "In words (RMB)",
    rate: "Annual rate",
    penaltyRate: "Penalty rate",
    method: "Repayment",
    disbursedOn: "Disbursed on",
    maturityOn: "Maturity",
    graceDays: "Grace period",
    days: (n) => `${n} day${n === 1 ? "" : "s"}`,
    allocation: "Repayment order",
    none: "None",
    schedule: "Repayment schedule",
    continued: " (continued)",
    unit: "Amounts in CNY",
    note: "Scheduled at the contract rate; penalty and compound interest after a due date are charged on top.",
    columns: ["No.", "Interest period", "Due", "Days", "Principal", "Interest", "Total"],
    totals: "Total",
    footer: (page, pages, at) => `Page ${page} of ${pages}    Generated ${at} (Beijing time)`,
    methods: {
      bullet: "Principal and interest at maturity",
      interest_monthly: "Monthly interest, principal at maturity",
      equal_principal: "Equal principal",
      equal_instalment: "Equal instalments",
    },
    components: {
      penalty: "Penalty interest",
      compound: "Compound interest",
      overdue_interest: "Overdue interest",
      overdue_principal: "Overdue principal",
      current_interest: "Current interest",
      current_principal: "Current principal",
    },
    yuan: (text) => `CNY ${text}`,
  },
};

// ---------------------------------------------------------------------------------------------
// Formats (integer arithmetic; the same output as app/i18n's for pages, so the PDF and the page agree).

/** 505,438 → "5,054.38". */
function groupedYuan(fen: number): string {
  if (!Number.isSafeInteger(fen)) throw new RangeError(`groupedYuan expects integer fen, got ${fen}`);
  const abs = Math.abs(fen);
  const cents = abs % 100;
  const yuan = String((abs - cents) / 100).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${fen < 0 ? "-" : ""}${yuan}.${String(cents).padStart(2, "0")}`;
}

/** 43,500 ppm → "4.35%", 65,250 → "6.525%". */
function ratePercent(ppm: number): string {
  if (!Number.isSafeInteger(ppm)) throw new RangeError(`ratePercent expects integer ppm, got ${ppm}`);
  const abs = Math.abs(ppm);
  const fraction = String(abs % 10_000).padStart(4, "0").replace(/0+$/, "");
  return `${ppm < 0 ? "-" : ""}${(abs - (abs % 10_000)) / 10_000}${fraction ? `.${fraction}` : ""}%`;
}

const MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"] as const;

/** A business date 'YYYY-MM-DD': as written in Chinese, "6 Jan 2027" in English. */
function dateText(date: string, locale: ContractPdfLocale): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m || locale === "zh-CN") return date;
  return `${Number(m[3])} ${MONTHS_EN[Number(m[2]) - 1]} ${m[1]}`;
}

/** An instant in Asia/Shanghai to the minute. */
function instantText(at: Date, locale: ContractPdfLocale): string {
  const iso = new Date(at.getTime() + SHANGHAI_OFFSET_MS).toISOString();
  return `${dateText(iso.slice(0, 10), locale)}${locale === "en" ? "," : ""} ${iso.slice(11, 16)}`;
}

// ---------------------------------------------------------------------------------------------
// Layout: A4 portrait, in points.

const PAGE = { width: 595.28, height: 841.89, margin: 50, bottom: 60 } as const;
const CONTENT_WIDTH = PAGE.width - 2 * PAGE.margin;
const TABLE_BOTTOM = PAGE.height - PAGE.bottom;
const ROW_HEIGHT = 15;
const TABLE_FONT_SIZE = 8.5;

/** Widths sum to CONTENT_WIDTH (495 of 495.28). */
const COLUMNS: readonly { width: number; align: "left" | "center" | "right" }[] = [
  { width: 32, align: "center" },
  { width: 136, align: "left" },
  { width: 72, align: "left" },
  { width: 34, align: "right" },
  { width: 74, align: "right" },
  { width: 68, align: "right" },
  { width: 79, align: "right" },
];
const CELL_PADDING = 4;

type Doc = PDFKit.PDFDocument;

function rule(doc: Doc, y: number, color = "#9ca3af", width = 0.5): void {
  doc.save().moveTo(PAGE.margin, y).lineTo(PAGE.width - PAGE.margin, y).lineWidth(width).strokeColor(color).stroke().restore();
}

function row(doc: Doc, y: number, cells: readonly string[], options: { shade?: string } = {}): void {
  if (options.shade) doc.save().rect(PAGE.margin, y, CONTENT_WIDTH, ROW_HEIGHT).fill(options.shade).restore();
  let x = PAGE.margin;
  cells.forEach((text, i) => {
    const column = COLUMNS[i];
    doc.text(text, x + CELL_PADDING, y + 3.5, { width: column.width - 2 * CELL_PADDING, align: column.align, lineBreak: false });
    x += column.width;
  });
}

function tableHeader(doc: Doc, y: number, labels: Labels): number {
  doc.fontSize(TABLE_FONT_SIZE).fillColor("#111827");
  row(doc, y, labels.columns, { shade: "#e5e7eb" });
  rule(doc, y + ROW_HEIGHT, "#6b7280");
  return y + ROW_HEIGHT;
}

/** Label–value pairs in two columns of the page; a long value wraps in its own column. */
function facts(doc: Doc, y: number, pairs: readonly (readonly [string, string])[]): number {
  const labelWidth = 100;
  const valueWidth = CONTENT_WIDTH - labelWidth;
  doc.fontSize(10);
  let top = y;
  for (const [label, value] of pairs) {
    const height = Math.max(doc.heightOfString(value, { width: valueWidth }), doc.heightOfString(label, { width: labelWidth - 8 }));
    doc.fillColor("#4b5563").text(label, PAGE.margin, top, { width: labelWidth - 8 });
    doc.fillColor("#111827").text(value, PAGE.margin + labelWidth, top, { width: valueWidth });
    top += height + 5;
  }
  return top;
}

export async function renderLoanContractPdf(detail: LoanDetail, options: ContractPdfOptions): Promise<Buffer> {
  const { loan, instalments } = detail;
  if (instalments.length > TERM_MONTHS_MAX) throw new RangeError(`a schedule holds at most ${TERM_MONTHS_MAX} instalments, got ${instalments.length}`);
  const order = options.allocationOrder ?? DEFAULT_ALLOCATION_ORDER;
  assertAllocationOrder(order);
  const { locale } = options;
  const labels = LABELS[locale];
  const generated = instantText(options.generatedAt, locale);

  const doc = new PDFDocument({
    size: "A4",
    margins: { top: PAGE.margin, left: PAGE.margin, right: PAGE.margin, bottom: PAGE.bottom },
    bufferPages: true,
    lang: locale,
    displayTitle: true,
    info: { Title: `${labels.title} ${loan.number}`, Author: "Rongtong", CreationDate: options.generatedAt },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on("data", (chunk: Buffer) => chunks.push(chunk));
    doc.on("end", () => resolve(Buffer.concat(chunks)));
    doc.on("error", reject);
  });
  doc.registerFont(FONT_NAME, fontData());
  doc.font(FONT_NAME);

  // Title and the contract's terms.
  doc.fillColor("#111827").fontSize(16).text(labels.title, PAGE.margin, PAGE.margin, { width: CONTENT_WIDTH, align: "center" });
  let y = doc.y + 4;
  doc.fontSize(10).fillColor("#4b5563").text(`${labels.loanNumber} ${loan.number}`, PAGE.margin, y, { width: CONTENT_WIDTH, align: "center" });
  y = doc.y + 10;
  rule(doc, y, "#111827", 1);
  y += 10;

  const methodText = labels.methods[loan.repayment_method as RepaymentMethod] ?? loan.repayment_method;
  const known = new Set<string>(ALLOCATION_COMPONENTS);
  const allocationText = order.filter((c) => known.has(c)).map((c) => labels.components[c]).join(" → ");
  y = facts(doc, y, [
    [labels.loanNumber, loan.number],
    [labels.product, locale === "en" ? loan.productNameEn : loan.productName],
    [labels.borrower, loan.borrowerName],
    [labels.guarantor, loan.guarantorName ?? labels.none],
    [labels.order, loan.orderNumber ?? labels.none],
    [labels.principal, labels.yuan(groupedYuan(loan.principal_fen))],
    [labels.principalWords, yuanInWords(loan.principal_fen)],
    [labels.rate, ratePercent(loan.annual_rate_ppm)],
    [labels.penaltyRate, ratePercent(loan.penalty_rate_ppm)],
    [labels.method, methodText],
    [labels.disbursedOn, dateText(loan.disbursed_on, locale)],
    [labels.maturityOn, dateText(loan.maturity_on, locale)],
    [labels.graceDays, labels.days(loan.grace_days)],
    [labels.allocation, allocationText],
  ]);

  // The schedule.
  y += 8;
  doc.fontSize(12).fillColor("#111827").text(labels.schedule, PAGE.margin, y, { width: CONTENT_WIDTH });
  y = doc.y + 2;
  doc.fontSize(8.5).fillColor("#4b5563").text(`${labels.unit}\u3000${labels.note}`, PAGE.margin, y, { width: CONTENT_WIDTH });
  y = doc.y + 6;
  y = tableHeader(doc, y, labels);

  let principalTotal = 0;
  let interestTotal = 0;
  const newPage = (): number => {
    doc.addPage();
    doc.fontSize(9).fillColor("#4b5563").text(`${labels.loanNumber} ${loan.number} · ${labels.schedule}${labels.continued}`, PAGE.margin, PAGE.margin, { width: CONTENT_WIDTH, lineBreak: false });
    return tableHeader(doc, PAGE.margin + 18, labels);
  };
  instalments.forEach((instalment, index) => {
    if (y + ROW_HEIGHT > TABLE_BOTTOM) y = newPage();
    principalTotal += instalment.principalFen;
    interestTotal += instalment.interestFen;
    doc.fontSize(TABLE_FONT_SIZE).fillColor("#111827");
    row(
      doc,
      y,
      [
        String(instalment.seq),
        `${dateText(instalment.periodStartOn, locale)} – ${dateText(instalment.dueOn, locale)}`,
        dateText(instalment.dueOn, locale),
        String(instalment.days),
        groupedYuan(instalment.principalFen),
        groupedYuan(instalment.interestFen),
        groupedYuan(instalment.principalFen + instalment.interestFen),
      ],
      { shade: index % 2 === 1 ? "#f9fafb" : undefined },
    );
    y += ROW_HEIGHT;
  });
  // The totals row stays with the table: on a new page under its own header when it does not fit.
  if (y + ROW_HEIGHT + 2 > TABLE_BOTTOM) y = newPage();
  rule(doc, y, "#6b7280");
  doc.fontSize(TABLE_FONT_SIZE).fillColor("#111827");
  row(doc, y + 1, [labels.totals, "", "", "", groupedYuan(principalTotal), groupedYuan(interestTotal), groupedYuan(principalTotal + interestTotal)], { shade: "#e5e7eb" });

  // Footers, once the page count is known. Writing below the bottom margin would start a new
  // page, so the margin is lifted while the footer is written.
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    rule(doc, PAGE.height - 44, "#d1d5db");
    doc
      .fontSize(8)
      .fillColor("#6b7280")
      .text(labels.footer(i - range.start + 1, range.count, generated), PAGE.margin, PAGE.height - 38, { width: CONTENT_WIDTH, align: "center", lineBreak: false });
    doc.page.margins.bottom = bottom;
  }
  doc.end();
  return done;
}
