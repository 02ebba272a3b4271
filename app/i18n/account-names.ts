import { translateDynamic, translateWithParams, type Locale } from "./index";

/** A name as stored: Chinese always, English when the organisation gave one. */
export interface Named {
  name: string;
  nameEn: string | null;
}

/**
 * What an account is, as the domain describes it (app/domain/ledger/statements.server.ts):
 * its kind, and who it is about — the owner, grantor → holder for a credit line, the market or
 * the campaign; nobody for the bank's own books.
 */
export interface AccountNaming {
  kind: string;
  parts: Named[];
}

export function nameIn(locale: Locale, named: Named): string {
  return locale === "en" && named.nameEn ? named.nameEn : named.name;
}

/** "钱包 · 杭州李记服饰商行", "赊销额度 · 华通电器 → 杭州鑫达商贸", "银行权益". Never the code. */
export function accountName(locale: Locale, naming: AccountNaming): string {
  const kind = translateDynamic(locale, `account.${naming.kind}`, translateWithParams(locale, "accountName.unknownKind"));
  if (naming.parts.length === 0) return kind;
  return `${kind} · ${naming.parts.map((p) => nameIn(locale, p)).join(" → ")}`;
}

/** A transfer kind in the reader's language; an unknown kind says so rather than showing a code. */
export function transferKindName(locale: Locale, kind: string): string {
  return translateDynamic(locale, `transfer.${kind}`, translateWithParams(locale, "accountName.unknownTransfer"));
}
