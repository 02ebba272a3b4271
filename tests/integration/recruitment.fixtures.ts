import { randomInt } from "node:crypto";
import type { Db } from "../../db";
import type { Actor } from "../../app/domain/shared/audit.server";
import { createTier } from "../../app/domain/pricing/pricing.server";
import {
  createCampaign,
  submitApplication,
  transitionCampaign,
  type ApplicationInput,
  type CampaignInput,
  type SubmittedApplication,
} from "../../app/domain/recruitment/recruitment.server";
import { usccCheckCharacter } from "../../app/domain/shared/uscc";
import { createOrg, createUser } from "../support/factories";
import { shanghaiDate } from "../../app/domain/shared/dates";

/** Small factories for the recruitment tests: each test builds the world it talks about. */

export const TEST_SERVER_SECRET = "test-session-secret-0123456789abcdef";

const ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/** A valid, random Unified Social Credit Code (a company, registered in Zhejiang). */
export function randomUscc(): string {
  let body = "913301";
  while (body.length < 17) body += ALPHABET[randomInt(ALPHABET.length)];
  return body + usccCheckCharacter(body);
}

/** The same code with its check character changed: the validator must refuse it. */
export function corruptUscc(valid: string): string {
  const last = valid[17];
  const other = ALPHABET[(ALPHABET.indexOf(last) + 1) % ALPHABET.length];
  return valid.slice(0, 17) + other;
}

export function today(offsetDays = 0): string {
  return shanghaiDate(new Date(Date.now() + offsetDays * 86_400_000));
}

export interface CoreWorld {
  coreId: string;
  actor: Actor;
  owner: { id: string; email: string; password: string };
  tierId: string;
}

export async function coreEnterprise(db: Db, name?: string): Promise<CoreWorld> {
  const core = await createOrg(db, { kind: "core_enterprise", name });
  const owner = await createUser(db, { memberships: [[core.id, "owner"]] });
  const actor: Actor = { userId: owner.id, organizationId: core.id, ip: null, requestId: null };
  const tier = await createTier(db, actor, core.id, { name: "银牌", rank: 2 });
  return { coreId: core.id, actor, owner, tierId: tier.id };
}

export function campaignInput(overrides: Partial<CampaignInput> = {}): CampaignInput {
  return {
    title: "华东区经销商招募",
    description: "面向华东地区招募家电经销商。",
    requirements: "具备家电零售经验，有门店或线上店铺。",
    regions: ["浙江省温州市", "浙江省金华市", "江苏省苏州市"],
    quota: 5,
    depositFen: 0,
    closesOn: today(30),
    tierId: null,
    creditLimitFen: 10_000_000,
    paymentTermsDays: 30,
    ...overrides,
  };
}

export async function publishedCampaign(db: Db, world: CoreWorld, overrides: Partial<CampaignInput> = {}) {
  const campaign = await createCampaign(db, world.actor, world.coreId, campaignInput({ tierId: world.tierId, ...overrides }), { now: new Date() });
  return transitionCampaign(db, world.actor, world.coreId, campaign.id, "publish", { now: new Date() });
}

export function applicationInput(overrides: Partial<ApplicationInput> = {}): ApplicationInput {
  return {
    companyName: "温州优选电器有限公司",
    uscc: randomUscc(),
    legalRepresentative: "林国强",
    contactName: "林小姐",
    contactPhone: "13857712345",
    contactEmail: `apply-${randomInt(1e9)}@example.test`,
    region: "浙江省温州市",
    channels: ["retail_store", "online_store"],
    notes: "",
    ...overrides,
  };
}

export const ANONYMOUS: Actor = { userId: null, organizationId: null, ip: null, requestId: null };

export async function apply(db: Db, campaignId: string, overrides: Partial<ApplicationInput> = {}): Promise<SubmittedApplication> {
  return submitApplication(db, ANONYMOUS, { campaignId, input: applicationInput(overrides), now: new Date() });
}

/** Tiny but real file heads: the sniffing looks at the first bytes only. */
export const PDF_BYTES = new Uint8Array(Buffer.from("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n", "latin1"));
export const PNG_BYTES = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
