import type { z } from "zod";
import { DEFAULT_LOCALE, localeFromAcceptLanguage, translateDynamic, type Locale } from "../i18n";
import { DomainError, isDomainError } from "../domain/shared";
import type { FeeSchedule } from "../domain/market";
import type { FeeScheduleView, MarketView } from "./market-venues-views.server";
import { applicationEvents, MANUAL_STALL_EVENTS, marketMerchantEvents, stallEvents, type MarketMerchant, type MarketStall, type MarketZone, type MerchantApplication } from "../domain/market";
import { apiFieldName } from "./handler.server";
import {
  MARKET_FIELD_NAMES,
  type applicationSchema,
  type feeInForceSchema,
  type feeScheduleSchema,
  type marketSchema,
  type merchantSchema,
  type stallSchema,
  type zoneSchema,
} from "./contracts/market-venues";

/**
 * The market venues API's JSON shapes and error wording, shared by its route modules
 * (app/routes/api.v1.markets*.ts). The models speak problem codes per field (`uscc_check_character`,
 * the pages' `catalog.problem.*`): `error.fields` keeps those codes under the API's field names, and
 * `error.message` says them as sentences, in English unless the request prefers Chinese
 * (`Accept-Language: zh-CN`).
 */

function apiLocale(request: Request): Locale {
  const preferred = localeFromAcceptLanguage(request.headers.get("Accept-Language"));
  // The API's default is English (integrators), the pages' is Chinese.
  return preferred === DEFAULT_LOCALE ? DEFAULT_LOCALE : "en";
}

/**
 * Run model work; a refusal naming fields is rethrown with the API's field names
 * (`monthlyRent` → `monthly_rent_fen`), each with its code; the message says each as a sentence.
 */
export async function withMarketProblems<T>(request: Request, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!isDomainError(error) || Object.keys(error.fields).length === 0) throw error;
    const locale = apiLocale(request);
    const fields: Record<string, string> = {};
    const sentences: string[] = [];
    for (const [field, code] of Object.entries(error.fields)) {
      const name = apiFieldName(field, MARKET_FIELD_NAMES);
      fields[name] = code;
      sentences.push(`${name}: ${translateDynamic(locale, `catalog.problem.${code}`, code)}`);
    }
    const detail = sentences.join("; ");
    // Not found and state refusals keep the model's message; the detail follows it.
    const message = error.code === "validation" ? `Invalid input: ${detail}` : `${error.message} (${detail})`;
    throw new DomainError(error.code, message, fields);
  }
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function marketJson(m: MarketView): z.input<typeof marketSchema> {
  return {
    id: m.id,
    name: m.name,
    city: m.city,
    categories: m.categories,
    auto_confirm_days: m.autoConfirmDays,
    unpaid_expiry_minutes: m.unpaidExpiryMinutes,
    status: m.status,
    membership: m.membership
      ? {
          id: m.membership.id,
          status: m.membership.status,
          status_reason: m.membership.statusReason,
          stall: m.membership.stallId ? { id: m.membership.stallId, code: m.membership.stallCode ?? "" } : null,
          categories: m.membership.categories,
        }
      : null,
    created_at: m.createdAt.toISOString(),
    updated_at: m.updatedAt.toISOString(),
  };
}

export function zoneJson(z: MarketZone): z.input<typeof zoneSchema> {
  return { id: z.id, market_id: z.marketId, name: z.name };
}

export function stallJson(s: MarketStall): z.input<typeof stallSchema> {
  return {
    id: s.id,
    market_id: s.marketId,
    code: s.code,
    zone: s.zoneId ? { id: s.zoneId, name: s.zoneName ?? "" } : null,
    area_dm2: s.areaDm2,
    monthly_rent_fen: s.monthlyRentFen,
    status: s.status,
    merchant_name: s.merchantName,
    actions: stallEvents(s.status).filter((e): e is "close" | "reopen" => MANUAL_STALL_EVENTS.includes(e)),
  };
}

export function merchantJson(m: MarketMerchant): z.input<typeof merchantSchema> {
  return {
    id: m.id,
    market_id: m.marketId,
    organization: { id: m.merchantId, name: m.merchantName, uscc: m.merchantUscc },
    stall: m.stallId ? { id: m.stallId, code: m.stallCode ?? "" } : null,
    categories: m.categories,
    status: m.status,
    status_reason: m.statusReason,
    actions: marketMerchantEvents(m.status),
    created_at: m.createdAt.toISOString(),
  };
}

export function applicationJson(a: MerchantApplication): z.input<typeof applicationSchema> {
  return {
    id: a.id,
    market_id: a.marketId,
    status: a.status,
    uscc: a.uscc,
    company_name: a.companyName,
    legal_representative: a.legalRepresentative,
    contact_name: a.contactName,
    contact_phone: a.contactPhone,
    stall_wish: a.stallWish,
    categories: a.categories,
    decision_reason: a.decisionReason,
    assigned_stall: a.assignedStallId ? { id: a.assignedStallId, code: a.assignedStallCode ?? "" } : null,
    merchant_organization_id: a.merchantId,
    actions: applicationEvents(a.status),
    decided_at: iso(a.decidedAt),
    created_at: a.createdAt.toISOString(),
  };
}

function scheduleFields(f: FeeSchedule) {
  return {
    id: f.id,
    market_id: f.marketId,
    category: f.category,
    commission_rate_bps: f.commissionRateBps,
    min_fee_fen: f.minFeeFen,
    effective_from: f.effectiveFrom,
    created_at: f.createdAt.toISOString(),
  };
}

export function feeScheduleJson(f: FeeScheduleView): z.input<typeof feeScheduleSchema> {
  return { ...scheduleFields(f), state: f.state };
}

export function feeInForceJson(r: { market: { id: string }; category: string; on: string; schedule: FeeSchedule | null }): z.input<typeof feeInForceSchema> {
  return { market_id: r.market.id, category: r.category, on: r.on, schedule: r.schedule ? scheduleFields(r.schedule) : null };
}
