import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "kysely";
import type { DbHandle } from "../../db";
import { SYSTEM_ACTOR } from "../../app/domain/shared/audit.server";
import { login } from "../../app/domain/identity/auth.server";
import { creditSummary } from "../../app/domain/credit/credit.server";
import { getDealerLink } from "../../app/domain/dealers/dealers.server";
import {
  acceptInvitationAsNewUser,
  acceptInvitationAsUser,
  findInvitationByToken,
  invitationToken,
  reissueInvitation,
} from "../../app/domain/identity/invitations.server";
import { verifyLedger } from "../../app/domain/ledger/ledger.server";
import {
  APPLICATION_TRANSITIONS,
  applicationEvents,
  approveApplication,
  cleanFileName,
  countApplicationsByStatus,
  createCampaign,
  depositAccountCode,
  getApplicationByToken,
  getApplicationForReview,
  getCampaign,
  getDepositForDealer,
  getDocument,
  getPublicCampaign,
  listApplications,
  listCampaigns,
  parseCampaignForm,
  respondToInfoRequest,
  reviewApplication,
  sniffDocumentType,
  startDepositPayment,
  submitApplication,
  transitionCampaign,
  transitionFor,
  updateCampaign,
  withdrawApplication,
} from "../../app/domain/recruitment/recruitment.server";
import { logger } from "../../app/logger.server";
import { fulfilPaymentStep } from "../../workflows/payments";
import { createTestDatabase } from "../support/db";
import { createOrg, createUser } from "../support/factories";
import { payOnSandboxPage, settleDeliveries, startPaymentsServer, expectLedgerClean, type PaymentsServer } from "./payments.fixtures";
import {
  ANONYMOUS,
  apply,
  applicationInput,
  campaignInput,
  coreEnterprise,
  corruptUscc,
  PDF_BYTES,
  PNG_BYTES,
  publishedCampaign,
  randomUscc,
  TEST_SERVER_SECRET,
  today,
  type CoreWorld,
} from "./recruitment.fixtures";

const SECRET = { serverSecret: TEST_SERVER_SECRET };

describe("recruitment", () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await createTestDatabase({ poolMax: 12 });
    const bank = await handle.db.selectFrom("organizations").select("id").where("kind", "=", "bank").executeTakeFirst();
    if (!bank) await createOrg(handle.db, { kind: "bank", name: "测试银行" });
  });
  afterAll(async () => {
    await handle?.close();
  });

  async function underReview(world: CoreWorld, campaignId: string, overrides: Parameters<typeof apply>[2] = {}) {
    const submitted = await apply(handle.db, campaignId, overrides);
    await reviewApplication(handle.db, world.actor, world.coreId, submitted.application.id, "start_review", "", new Date());
    return submitted;
  }

  describe("the state machines, as data", () => {
    it("lets each party fire only its own events, and approve goes by the deposit", () => {
      expect(applicationEvents("submitted", "reviewer")).toEqual(["start_review", "reject"]);
      expect(applicationEvents("submitted", "applicant")).toEqual(["withdraw"]);
      expect(applicationEvents("info_requested", "applicant")).toEqual(["respond", "withdraw"]);
      expect(applicationEvents("approved", "reviewer")).toEqual([]);
      expect(transitionFor("under_review", "approve", { depositFen: 0 })?.to).toBe("approved");
      expect(transitionFor("under_review", "approve", { depositFen: 100 })?.to).toBe("awaiting_deposit");
      expect(transitionFor("submitted", "approve", { depositFen: 0 })).toBeNull();
      // Every target is a known status and no terminal status has a way out.
      for (const status of ["approved", "rejected", "withdrawn"] as const) expect(APPLICATION_TRANSITIONS[status]).toEqual({});
    });
  });

  describe("campaigns", () => {
    it("goes draft → published → closed, keeps the applicants' terms once published, and is public only once published", async () => {
      const world = await coreEnterprise(handle.db);
      const draft = await createCampaign(handle.db, world.actor, world.coreId, campaignInput({ tierId: world.tierId, depositFen: 2_000_000 }), { now: new Date() });
      expect(draft).toMatchObject({ status: "draft", approvedCount: 0, tierName: "银牌", depositFen: 2_000_000 });
      await expect(getPublicCampaign(handle.db, draft.id, new Date())).rejects.toMatchObject({ code: "not_found" });

      const published = await transitionCampaign(handle.db, world.actor, world.coreId, draft.id, "publish", { now: new Date() });
      expect(published.status).toBe("published");
      expect(published.publishedAt).toBeInstanceOf(Date);
      const pub = await getPublicCampaign(handle.db, draft.id, new Date());
      expect(pub).toMatchObject({ placesLeft: 5, notAccepting: null, regions: ["浙江省温州市", "浙江省金华市", "江苏省苏州市"] });

      await expect(
        updateCampaign(handle.db, world.actor, world.coreId, draft.id, campaignInput({ tierId: world.tierId, depositFen: 0 }), { now: new Date() }),
      ).rejects.toMatchObject({ code: "invalid_state", fields: { depositFen: "fixed_after_publish" } });
      const edited = await updateCampaign(handle.db, world.actor, world.coreId, draft.id, campaignInput({ tierId: world.tierId, depositFen: 2_000_000, quota: 8, title: "新标题" }), { now: new Date() });
      expect(edited).toMatchObject({ quota: 8, title: "新标题" });

      await expect(transitionCampaign(handle.db, world.actor, world.coreId, draft.id, "publish", { now: new Date() })).rejects.toMatchObject({ code: "invalid_state" });
      const closed = await transitionCampaign(handle.db, world.actor, world.coreId, draft.id, "close", { now: new Date() });
      expect(closed.status).toBe("closed");
      expect((await getPublicCampaign(handle.db, draft.id, new Date())).notAccepting).toBe("closed");
      await expect(updateCampaign(handle.db, world.actor, world.coreId, draft.id, campaignInput(), { now: new Date() })).rejects.toMatchObject({ code: "invalid_state" });

      const audit = await handle.db.selectFrom("audit_events").select("action").where("entity_id", "=", draft.id).orderBy("id").execute();
      expect(audit.map((a) => a.action)).toEqual([
        "recruitment_campaign.created",
        "recruitment_campaign.published",
        "recruitment_campaign.updated",
        "recruitment_campaign.closed",
      ]);
    });

    it("names every bad field and writes nothing", async () => {
      const world = await coreEnterprise(handle.db);
      const other = await coreEnterprise(handle.db);
      const before = await handle.db.selectFrom("recruitment_campaigns").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      await expect(
        createCampaign(handle.db, world.actor, world.coreId, campaignInput({ title: "", regions: [], quota: 0, depositFen: -1, closesOn: "2025-02-30" }), { now: new Date() }),
      ).rejects.toMatchObject({
        code: "validation",
        fields: { title: "required", regions: "required", quota: "out_of_range", depositFen: "out_of_range", closesOn: "date_format" },
      });
      await expect(createCampaign(handle.db, world.actor, world.coreId, campaignInput({ closesOn: today(-1) }), { now: new Date() })).rejects.toMatchObject({
        fields: { closesOn: "date_past" },
      });
      // Another core enterprise's tier is not one of ours.
      await expect(createCampaign(handle.db, world.actor, world.coreId, campaignInput({ tierId: other.tierId }), { now: new Date() })).rejects.toMatchObject({
        fields: { tierId: "unknown_tier" },
      });
      await expect(
        createCampaign(handle.db, world.actor, world.coreId, campaignInput({ regions: Array.from({ length: 31 }, (_, i) => `地区${i}`) }), { now: new Date() }),
      ).rejects.toMatchObject({ fields: { regions: "too_many" } });
      const after = await handle.db.selectFrom("recruitment_campaigns").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      expect(Number(after.n)).toBe(Number(before.n));
    });

    it("parses the form: yuan to fen, regions one per line or separated by 、", () => {
      const parsed = parseCampaignForm({
        title: " 招募 ",
        description: "",
        requirements: "",
        regions: "浙江省温州市\n浙江省金华市、江苏省苏州市,浙江省温州市",
        quota: "3",
        depositYuan: "20,000.50",
        closesOn: today(10),
        tierId: "",
        creditLimitYuan: "",
        paymentTermsDays: "45",
      });
      expect(parsed).toEqual({
        ok: true,
        input: expect.objectContaining({ title: "招募", regions: ["浙江省温州市", "浙江省金华市", "江苏省苏州市"], depositFen: 2_000_050, creditLimitFen: 0, tierId: null }),
      });
      const bad = parseCampaignForm({ title: "", regions: "", quota: "1.5", depositYuan: "abc", closesOn: "tomorrow", creditLimitYuan: "-1", paymentTermsDays: "400" });
      expect(bad).toEqual({
        ok: false,
        fieldErrors: { title: "required", regions: "required", quota: "whole_number", depositYuan: "money_format", closesOn: "date_format", creditLimitYuan: "money_format", paymentTermsDays: "out_of_range" },
      });
    });
  });

  describe("applying", () => {
    it("takes a valid application, stores the token's hash only, records the timeline and notifies the core enterprise", async () => {
      const world = await coreEnterprise(handle.db);
      const campaign = await publishedCampaign(handle.db, world);
      const uscc = randomUscc();
      const ok = await submitApplication(handle.db, { ...ANONYMOUS, ip: "203.0.113.7" }, {
        campaignId: campaign.id,
        input: applicationInput({ uscc: uscc.toLowerCase(), contactPhone: "138 5771 2345" }),
        documents: [{ fileName: "../营业执照.pdf", bytes: PDF_BYTES }],
        now: new Date(),
      });
      expect(ok.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(ok.statusPath).toBe(`/join/${campaign.id}/status/${ok.token}`);
      expect(ok.application).toMatchObject({ status: "submitted", uscc, contactPhone: "13857712345" });
      const stored = await handle.db.selectFrom("recruitment_applications").select(["access_token_hash", "submitted_ip"]).where("id", "=", ok.application.id).executeTakeFirstOrThrow();
      expect(stored.access_token_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(stored.access_token_hash).not.toContain(ok.token);
      expect(stored.submitted_ip).toBe("203.0.113.7");

      const view = await getApplicationByToken(handle.db, campaign.id, ok.token, { ...SECRET, now: new Date() });
      expect(view.timeline.map((e) => [e.event, e.toStatus, e.actorKind])).toEqual([["submit", "submitted", "applicant"]]);
      expect(view.documents).toEqual([expect.objectContaining({ fileName: "营业执照.pdf", sizeBytes: PDF_BYTES.byteLength })]);

      const note = await handle.db
        .selectFrom("notification_requests")
        .select(["topic", "params", "organization_id"])
        .where("dedupe_key", "=", `recruitment.application_submitted:${ok.application.id}`)
        .executeTakeFirstOrThrow();
      expect(note).toMatchObject({ topic: "recruitment.application_submitted", organization_id: world.coreId, params: { companyName: "温州优选电器有限公司" } });
      const outbox = await handle.db.selectFrom("outbox").select("job_id").where("job_id", "like", "notifications:%").execute();
      expect(outbox.length).toBeGreaterThan(0);
    });

    it("refuses corrupted USCCs with the validator's problem, an unknown region, a second live application, and writes nothing", async () => {
      const world = await coreEnterprise(handle.db);
      const campaign = await publishedCampaign(handle.db, world);
      const valid = randomUscc();
      for (const [uscc, code] of [
        [corruptUscc(valid), "uscc_check_character"],
        [valid.slice(0, 17), "uscc_length"],
        [`${valid.slice(0, 16)}I${valid[17]}`, "uscc_characters"],
        ["", "required"],
      ] as const) {
        await expect(apply(handle.db, campaign.id, { uscc })).rejects.toMatchObject({ code: "validation", fields: { uscc: code } });
      }
      await expect(apply(handle.db, campaign.id, { region: "广东省广州市" })).rejects.toMatchObject({ fields: { region: "region_unknown" } });
      await expect(
        apply(handle.db, campaign.id, { contactEmail: "nope", contactPhone: "12345", channels: [], companyName: "x".repeat(201) }),
      ).rejects.toMatchObject({ fields: { contactEmail: "email", contactPhone: "phone", channels: "channels_required", companyName: "too_long" } });
      await apply(handle.db, campaign.id, { uscc: valid });
      await expect(apply(handle.db, campaign.id, { uscc: valid })).rejects.toMatchObject({ code: "conflict", fields: { uscc: "already_applied" } });
      expect((await countApplicationsByStatus(handle.db, world.coreId, campaign.id)).submitted).toBe(1);
    });

    it("takes documents by content only: PDF, JPG, PNG up to 5 MB, at most 3 at a time", async () => {
      expect(sniffDocumentType(PDF_BYTES)).toBe("application/pdf");
      expect(sniffDocumentType(PNG_BYTES)).toBe("image/png");
      expect(sniffDocumentType(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))).toBe("image/jpeg");
      expect(sniffDocumentType(new Uint8Array(Buffer.from("<html><script>")))).toBeNull();
      expect(cleanFileName("C:\\fakepath\\营业执照\u0000.pdf")).toBe("营业执照.pdf");
      const world = await coreEnterprise(handle.db);
      const campaign = await publishedCampaign(handle.db, world);
      const html = { fileName: "x.pdf", bytes: new Uint8Array(Buffer.from("<html>")) };
      await expect(submitApplication(handle.db, ANONYMOUS, { campaignId: campaign.id, input: applicationInput(), documents: [html], now: new Date() })).rejects.toMatchObject({
        fields: { documents: "file_type" },
      });
      const big = new Uint8Array(5 * 1024 * 1024 + 1);
      big.set(PDF_BYTES);
      await expect(
        submitApplication(handle.db, ANONYMOUS, { campaignId: campaign.id, input: applicationInput(), documents: [{ fileName: "big.pdf", bytes: big }], now: new Date() }),
      ).rejects.toMatchObject({ fields: { documents: "file_too_large" } });
      const four = Array.from({ length: 4 }, () => ({ fileName: "a.png", bytes: PNG_BYTES }));
      await expect(submitApplication(handle.db, ANONYMOUS, { campaignId: campaign.id, input: applicationInput(), documents: four, now: new Date() })).rejects.toMatchObject({
        fields: { documents: "too_many_files" },
      });
      expect((await countApplicationsByStatus(handle.db, world.coreId, campaign.id)).submitted).toBe(0);

      const ok = await submitApplication(handle.db, ANONYMOUS, { campaignId: campaign.id, input: applicationInput(), documents: [{ fileName: "a.png", bytes: PNG_BYTES }], now: new Date() });
      const review = await getApplicationForReview(handle.db, world.coreId, ok.application.id, { ...SECRET, now: new Date() });
      const doc = await getDocument(handle.db, world.coreId, review.documents[0].id, { applicationId: ok.application.id });
      expect((await getDocument(handle.db, world.coreId, review.documents[0].id, { campaignId: campaign.id })).fileName).toBe("a.png");
      expect(doc.contentType).toBe("image/png");
      expect(Buffer.from(doc.content).equals(Buffer.from(PNG_BYTES))).toBe(true);
      const other = await coreEnterprise(handle.db);
      await expect(getDocument(handle.db, other.coreId, review.documents[0].id, { campaignId: campaign.id })).rejects.toMatchObject({ code: "not_found" });
    });

    it("refuses applications after the closing date (Asia/Shanghai), when closed, and when every place is taken", async () => {
      const world = await coreEnterprise(handle.db);
      const closesOn = today(100);
      const campaign = await publishedCampaign(handle.db, world, { closesOn, quota: 1 });
      // 23:59 on the closing day in Shanghai is 15:59 UTC: still open. One minute later it is the next day there.
      const lastMinute = new Date(`${closesOn}T15:59:00Z`);
      const firstMinuteAfter = new Date(`${closesOn}T16:00:00Z`);
      await submitApplication(handle.db, ANONYMOUS, { campaignId: campaign.id, input: applicationInput(), now: lastMinute });
      await expect(
        submitApplication(handle.db, ANONYMOUS, { campaignId: campaign.id, input: applicationInput(), now: firstMinuteAfter }),
      ).rejects.toMatchObject({ code: "invalid_state", fields: { campaign: "past_closing" } });

      const first = await underReview(world, campaign.id);
      await approveApplication(handle.db, world.actor, world.coreId, first.application.id, { ...SECRET, now: new Date() });
      await expect(apply(handle.db, campaign.id)).rejects.toMatchObject({ fields: { campaign: "full" } });

      const other = await publishedCampaign(handle.db, world);
      await transitionCampaign(handle.db, world.actor, world.coreId, other.id, "close", { now: new Date() });
      await expect(apply(handle.db, other.id)).rejects.toMatchObject({ fields: { campaign: "closed" } });
      const draft = await createCampaign(handle.db, world.actor, world.coreId, campaignInput(), { now: new Date() });
      await expect(apply(handle.db, draft.id)).rejects.toMatchObject({ code: "not_found" });
    });

    it("limits applications per sending address", async () => {
      const world = await coreEnterprise(handle.db);
      const campaign = await publishedCampaign(handle.db, world, { quota: 100 });
      const ip = `198.51.100.${Math.floor(Math.random() * 200)}`;
      for (let i = 0; i < 20; i++) await submitApplication(handle.db, { ...ANONYMOUS, ip }, { campaignId: campaign.id, input: applicationInput(), now: new Date() });
      await expect(submitApplication(handle.db, { ...ANONYMOUS, ip }, { campaignId: campaign.id, input: applicationInput(), now: new Date() })).rejects.toMatchObject({
        code: "rate_limited",
        status: 429,
      });
    });
  });

  describe("review", () => {
    it("walks submitted → under_review → info_requested ↔ under_review → rejected, with reasons where they matter", async () => {
      const world = await coreEnterprise(handle.db);
      const campaign = await publishedCampaign(handle.db, world);
      const { application, token } = await apply(handle.db, campaign.id);
      const id = application.id;

      await expect(reviewApplication(handle.db, world.actor, world.coreId, id, "request_info", "补充材料", new Date())).rejects.toMatchObject({
        code: "invalid_state",
        fields: { status: "invalid_transition" },
      });
      await reviewApplication(handle.db, world.actor, world.coreId, id, "start_review", "", new Date());
      await expect(reviewApplication(handle.db, world.actor, world.coreId, id, "request_info", "  ", new Date())).rejects.toMatchObject({ fields: { message: "required" } });
      await reviewApplication(handle.db, world.actor, world.coreId, id, "request_info", "请上传近一年的门店照片。", new Date());
      const asking = await getApplicationByToken(handle.db, campaign.id, token, { ...SECRET, now: new Date() });
      expect(asking.openQuestion).toBe("请上传近一年的门店照片。");
      expect(asking.events).toEqual(["respond", "withdraw"]);

      await expect(respondToInfoRequest(handle.db, ANONYMOUS, { campaignId: campaign.id, token, message: "" })).rejects.toMatchObject({ fields: { message: "required" } });
      await respondToInfoRequest(handle.db, ANONYMOUS, { campaignId: campaign.id, token, message: "已上传照片。", documents: [{ fileName: "门店.png", bytes: PNG_BYTES }] });
      await expect(reviewApplication(handle.db, world.actor, world.coreId, id, "reject", "", new Date())).rejects.toMatchObject({ fields: { message: "required" } });
      await reviewApplication(handle.db, world.actor, world.coreId, id, "reject", "所在区域已有经销商。", new Date());
      await expect(withdrawApplication(handle.db, ANONYMOUS, { campaignId: campaign.id, token })).rejects.toMatchObject({ code: "invalid_state" });

      const review = await getApplicationForReview(handle.db, world.coreId, id, { ...SECRET, now: new Date() });
      expect(review.timeline.map((e) => `${e.event}:${e.fromStatus ?? "-"}→${e.toStatus}`)).toEqual([
        "submit:-→submitted",
        "start_review:submitted→under_review",
        "request_info:under_review→info_requested",
        "respond:info_requested→under_review",
        "reject:under_review→rejected",
      ]);
      expect(review.timeline[4]).toMatchObject({ message: "所在区域已有经销商。", actorKind: "reviewer", actorName: expect.any(String) });
      expect(review.documents.map((d) => d.eventId)).toEqual([review.timeline[3].id]);
      expect(review.application.decidedAt).toBeInstanceOf(Date);
      // The applicant sees the reasons but not the reviewers' names.
      const seen = await getApplicationByToken(handle.db, campaign.id, token, { ...SECRET, now: new Date() });
      expect(seen.timeline.every((e) => e.actorName === null)).toBe(true);
      // The timeline is append-only.
      await expect(sql`update recruitment_application_events set message = 'x' where application_id = ${id}`.execute(handle.db)).rejects.toThrow(/append-only/);
      const audit = await handle.db.selectFrom("audit_events").select("action").where("entity_id", "=", id).orderBy("id").execute();
      expect(audit.map((a) => a.action)).toEqual([
        "recruitment_application.submit",
        "recruitment_application.start_review",
        "recruitment_application.request_info",
        "recruitment_application.respond",
        "recruitment_application.reject",
      ]);
      // Rejected: the company may apply again.
      await apply(handle.db, campaign.id, { uscc: review.application.uscc });
    });

    it("lets the applicant withdraw before a decision, and a token opens its own application only", async () => {
      const world = await coreEnterprise(handle.db);
      const campaign = await publishedCampaign(handle.db, world);
      const a = await apply(handle.db, campaign.id);
      const b = await apply(handle.db, campaign.id);
      const other = await publishedCampaign(handle.db, world);
      await expect(getApplicationByToken(handle.db, other.id, a.token, { ...SECRET, now: new Date() })).rejects.toMatchObject({ code: "not_found" });
      await expect(getApplicationByToken(handle.db, campaign.id, `${a.token.slice(0, 42)}x`, { ...SECRET, now: new Date() })).rejects.toMatchObject({ code: "not_found" });
      await expect(getApplicationByToken(handle.db, campaign.id, "short", { ...SECRET, now: new Date() })).rejects.toMatchObject({ code: "not_found" });
      const withdrawn = await withdrawApplication(handle.db, ANONYMOUS, { campaignId: campaign.id, token: a.token, reason: "改变计划" });
      expect(withdrawn.status).toBe("withdrawn");
      expect((await getApplicationByToken(handle.db, campaign.id, b.token, { ...SECRET, now: new Date() })).application.status).toBe("submitted");
      await expect(reviewApplication(handle.db, world.actor, world.coreId, a.application.id, "start_review", "", new Date())).rejects.toMatchObject({ code: "invalid_state" });
    });

    it("keeps another core enterprise out: its staff get not_found for campaigns, applications and actions", async () => {
      const world = await coreEnterprise(handle.db);
      const stranger = await coreEnterprise(handle.db);
      const campaign = await publishedCampaign(handle.db, world);
      const { application } = await apply(handle.db, campaign.id);
      await expect(getCampaign(handle.db, stranger.coreId, campaign.id)).rejects.toMatchObject({ code: "not_found" });
      await expect(listApplications(handle.db, stranger.coreId, campaign.id)).rejects.toMatchObject({ code: "not_found" });
      await expect(getApplicationForReview(handle.db, stranger.coreId, application.id, { ...SECRET, now: new Date() })).rejects.toMatchObject({ code: "not_found" });
      await expect(reviewApplication(handle.db, stranger.actor, stranger.coreId, application.id, "start_review", "", new Date())).rejects.toMatchObject({ code: "not_found" });
      await expect(approveApplication(handle.db, stranger.actor, stranger.coreId, application.id, { ...SECRET, now: new Date() })).rejects.toMatchObject({ code: "not_found" });
      await expect(transitionCampaign(handle.db, stranger.actor, stranger.coreId, campaign.id, "close", { now: new Date() })).rejects.toMatchObject({ code: "not_found" });
      await expect(updateCampaign(handle.db, stranger.actor, stranger.coreId, campaign.id, campaignInput(), { now: new Date() })).rejects.toMatchObject({ code: "not_found" });
      expect(await listCampaigns(handle.db, stranger.coreId)).toEqual([]);
      expect((await getApplicationForReview(handle.db, world.coreId, application.id, { ...SECRET, now: new Date() })).application.status).toBe("submitted");
    });

    it("pages applications newest first with a cursor", async () => {
      const world = await coreEnterprise(handle.db);
      const campaign = await publishedCampaign(handle.db, world, { quota: 50 });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await apply(handle.db, campaign.id)).application.id);
      const first = await listApplications(handle.db, world.coreId, campaign.id, { limit: 2 });
      expect(first.items.map((i) => i.id)).toEqual([ids[4], ids[3]]);
      const second = await listApplications(handle.db, world.coreId, campaign.id, { limit: 2, after: first.nextCursor });
      expect(second.items.map((i) => i.id)).toEqual([ids[2], ids[1]]);
      const last = await listApplications(handle.db, world.coreId, campaign.id, { limit: 2, after: second.nextCursor });
      expect(last).toEqual({ items: [expect.objectContaining({ id: ids[0] })], nextCursor: null });
      await expect(listApplications(handle.db, world.coreId, campaign.id, { after: "garbage" })).rejects.toMatchObject({ fields: { after: "invalid_cursor" } });
    });
  });

  describe("approval", () => {
    it("creates the dealer with the campaign's tier, region, credit and terms, invites its owner, in one transaction", async () => {
      const world = await coreEnterprise(handle.db);
      const campaign = await publishedCampaign(handle.db, world, { creditLimitFen: 30_000_000, paymentTermsDays: 45 });
      const { application, token } = await underReview(world, campaign.id, { region: "浙江省金华市", companyName: "金华众诚电器有限公司" });
      const approved = await approveApplication(handle.db, world.actor, world.coreId, application.id, { ...SECRET, note: "欢迎加入", now: new Date() });
      expect(approved.application.status).toBe("approved");
      expect(approved.createdOrganization).toBe(true);
      expect(approved.invitationPath).toMatch(/^\/invite\/[A-Za-z0-9_-]{43}$/);

      const link = await getDealerLink(handle.db, world.coreId, approved.dealerLinkId);
      expect(link).toMatchObject({ dealerName: "金华众诚电器有限公司", dealerUscc: application.uscc, tierId: world.tierId, region: "浙江省金华市", paymentTermsDays: 45, status: "active" });
      expect(await creditSummary(handle.db, link.id)).toEqual({ limitFen: 30_000_000, usedFen: 0, availableFen: 30_000_000 });
      expect((await getCampaign(handle.db, world.coreId, campaign.id)).approvedCount).toBe(1);

      // The link shows to the reviewer and on the status page while it is pending, and is the same link.
      const review = await getApplicationForReview(handle.db, world.coreId, application.id, { ...SECRET, now: new Date() });
      expect(review.invitation).toMatchObject({ state: "pending", path: approved.invitationPath, email: application.contactEmail });
      expect((await getApplicationByToken(handle.db, campaign.id, token, { ...SECRET, now: new Date() })).invitation?.path).toBe(approved.invitationPath);
      const stored = await handle.db.selectFrom("invitations").select(["token_hash", "role"]).where("id", "=", review.application.invitationId!).executeTakeFirstOrThrow();
      expect(stored.role).toBe("owner");
      expect(stored.token_hash).not.toContain(approved.invitationPath!.slice(8));

      // Accept: a new account, the owner of the new dealer, who can log in.
      const inviteToken = approved.invitationPath!.slice("/invite/".length);
      const found = await findInvitationByToken(handle.db, inviteToken, new Date());
      expect(found).toMatchObject({ state: "pending", accountExists: false, organizationName: "金华众诚电器有限公司" });
      await expect(
        acceptInvitationAsNewUser(handle.db, ANONYMOUS, { token: inviteToken, form: { displayName: "林", password: "short", passwordRepeat: "short" }, now: new Date() }),
      ).rejects.toMatchObject({ fields: { password: "password_short" } });
      const accepted = await acceptInvitationAsNewUser(handle.db, ANONYMOUS, {
        token: inviteToken,
        form: { displayName: "林总", password: "a-long-password", passwordRepeat: "a-long-password" },
        now: new Date(),
      });
      expect(accepted).toMatchObject({ organizationId: approved.dealerOrganizationId, role: "owner", returnPath: "/" });
      const session = await login(handle.db, { email: application.contactEmail, password: "a-long-password", ip: null, now: new Date() });
      expect(session).toMatchObject({ ok: true, organizationId: approved.dealerOrganizationId });
      // Once only.
      await expect(
        acceptInvitationAsNewUser(handle.db, ANONYMOUS, { token: inviteToken, form: { displayName: "x", password: "another-password", passwordRepeat: "another-password" }, now: new Date() }),
      ).rejects.toMatchObject({ code: "invalid_state", fields: { invitation: "accepted" } });
      expect((await getApplicationForReview(handle.db, world.coreId, application.id, { ...SECRET, now: new Date() })).invitation).toMatchObject({ state: "accepted", path: null });
      expect(await verifyLedger(handle.db)).toEqual([]);
    });

    it("links an existing dealer with that USCC without inviting anyone into it", async () => {
      const world = await coreEnterprise(handle.db);
      const campaign = await publishedCampaign(handle.db, world);
      const uscc = randomUscc();
      const existing = await createOrg(handle.db, { kind: "dealer", name: "已注册经销商" });
      await handle.db.updateTable("organizations").set({ uscc }).where("id", "=", existing.id).execute();
      await createUser(handle.db, { memberships: [[existing.id, "owner"]] });
      const { application } = await underReview(world, campaign.id, { uscc });
      const review = await getApplicationForReview(handle.db, world.coreId, application.id, { ...SECRET, now: new Date() });
      expect(review.existingOrganization).toMatchObject({ id: existing.id, kind: "dealer", inNetwork: false, memberCount: 1 });
      const approved = await approveApplication(handle.db, world.actor, world.coreId, application.id, { ...SECRET, now: new Date() });
      expect(approved).toMatchObject({ dealerOrganizationId: existing.id, createdOrganization: false, invitationPath: null });
    });

    it("refuses a company already in the network, or registered as another kind, and writes nothing", async () => {
      const world = await coreEnterprise(handle.db);
      const campaign = await publishedCampaign(handle.db, world);
      const first = await underReview(world, campaign.id);
      await approveApplication(handle.db, world.actor, world.coreId, first.application.id, { ...SECRET, now: new Date() });
      // The same company applies to a second campaign of the same core enterprise.
      const second = await publishedCampaign(handle.db, world);
      const again = await underReview(world, second.id, { uscc: first.application.uscc });
      const orgsBefore = await handle.db.selectFrom("organizations").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      await expect(approveApplication(handle.db, world.actor, world.coreId, again.application.id, { ...SECRET, now: new Date() })).rejects.toMatchObject({
        code: "conflict",
        fields: { uscc: "already_in_network" },
      });
      expect((await getCampaign(handle.db, world.coreId, second.id)).approvedCount).toBe(0);
      expect((await getApplicationForReview(handle.db, world.coreId, again.application.id, { ...SECRET, now: new Date() })).application.status).toBe("under_review");

      const buyerUscc = randomUscc();
      const buyer = await createOrg(handle.db, { kind: "buyer" });
      await handle.db.updateTable("organizations").set({ uscc: buyerUscc }).where("id", "=", buyer.id).execute();
      const asBuyer = await underReview(world, second.id, { uscc: buyerUscc });
      await expect(approveApplication(handle.db, world.actor, world.coreId, asBuyer.application.id, { ...SECRET, now: new Date() })).rejects.toMatchObject({
        fields: { uscc: "registered_other_kind" },
      });
      const orgsAfter = await handle.db.selectFrom("organizations").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
      expect(Number(orgsAfter.n)).toBe(Number(orgsBefore.n) + 1);
    });

    it("approves exactly the quota under 10 concurrent approvals of a quota of 3", async () => {
      const world = await coreEnterprise(handle.db);
      const campaign = await publishedCampaign(handle.db, world, { quota: 3 });
      const apps = [];
      for (let i = 0; i < 10; i++) apps.push(await underReview(world, campaign.id, { companyName: `并发经销商${i}有限公司` }));
      const results = await Promise.allSettled(apps.map((a) => approveApplication(handle.db, world.actor, world.coreId, a.application.id, { ...SECRET, now: new Date() })));
      const ok = results.filter((r) => r.status === "fulfilled");
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(ok).toHaveLength(3);
      expect(refused).toHaveLength(7);
      for (const r of refused) expect(r.reason).toMatchObject({ code: "conflict", fields: { quota: "quota_full" } });
      expect((await getCampaign(handle.db, world.coreId, campaign.id)).approvedCount).toBe(3);
      const counts = await countApplicationsByStatus(handle.db, world.coreId, campaign.id);
      expect(counts).toMatchObject({ approved: 3, under_review: 7 });
      const links = await handle.db.selectFrom("dealer_links").select("id").where("core_enterprise_id", "=", world.coreId).execute();
      expect(links).toHaveLength(3);
      // A lowered quota below the approvals made is refused.
      await expect(updateCampaign(handle.db, world.actor, world.coreId, campaign.id, campaignInput({ tierId: world.tierId, quota: 2 }), { now: new Date() })).rejects.toMatchObject({
        fields: { quota: "below_approved" },
      });
      expect(await verifyLedger(handle.db)).toEqual([]);
    });
  });

  describe("demo seed", () => {
    it("opens a campaign with a deposit and two waiting applications, and a draft", async () => {
      const world = await coreEnterprise(handle.db);
      const { seedRecruitmentDemo } = await import("../../app/seed/recruitment.server");
      await handle.db.transaction().execute((trx) => seedRecruitmentDemo(trx, { coreEnterpriseId: world.coreId }));
      const campaigns = await listCampaigns(handle.db, world.coreId);
      // One transaction: both rows carry the same created_at, so the order between them is the id's.
      expect(campaigns.map((c) => [c.status, c.openApplications]).sort()).toEqual([
        ["draft", 0],
        ["published", 2],
      ]);
      const open = campaigns.find((c) => c.status === "published")!;
      expect(open).toMatchObject({ depositFen: 2_000_000, tierName: "银牌", quota: 5 });
      expect(await countApplicationsByStatus(handle.db, world.coreId, open.id)).toMatchObject({ submitted: 1, info_requested: 1 });
    });
  });

  describe("invitations", () => {
    it("makes an existing account sign in to accept, and re-issues a lost or expired link", async () => {
      const dealer = await createOrg(handle.db, { kind: "dealer" });
      const user = await createUser(handle.db);
      const { createInvitation } = await import("../../app/domain/identity/invitations.server");
      const issued = await handle.db.transaction().execute((trx) =>
        createInvitation(trx, SYSTEM_ACTOR, { organizationId: dealer.id, email: user.email.toUpperCase(), role: "owner", serverSecret: TEST_SERVER_SECRET, now: new Date() }),
      );
      expect(invitationToken(TEST_SERVER_SECRET, { id: issued.invitation.id, nonce: (await handle.db.selectFrom("invitations").select("token_nonce").where("id", "=", issued.invitation.id).executeTakeFirstOrThrow()).token_nonce })).toBe(issued.token);
      expect(await findInvitationByToken(handle.db, issued.token, new Date())).toMatchObject({ accountExists: true });
      // A link may never set the password of an existing account.
      await expect(
        acceptInvitationAsNewUser(handle.db, ANONYMOUS, { token: issued.token, form: { displayName: "x", password: "takeover-password", passwordRepeat: "takeover-password" }, now: new Date() }),
      ).rejects.toMatchObject({ code: "conflict", fields: { invitation: "account_exists" } });
      const otherUser = await createUser(handle.db);
      await expect(acceptInvitationAsUser(handle.db, ANONYMOUS, { token: issued.token, userId: otherUser.id, now: new Date() })).rejects.toMatchObject({ code: "forbidden" });

      const later = new Date(Date.now() + 8 * 24 * 3600 * 1000);
      await expect(acceptInvitationAsUser(handle.db, ANONYMOUS, { token: issued.token, userId: user.id, now: later })).rejects.toMatchObject({
        fields: { invitation: "expired" },
      });
      const again = await reissueInvitation(handle.db, SYSTEM_ACTOR, { invitationId: issued.invitation.id, organizationId: dealer.id, serverSecret: TEST_SERVER_SECRET, now: new Date() });
      expect(again.token).not.toBe(issued.token);
      expect(await findInvitationByToken(handle.db, issued.token, new Date())).toBeNull();
      const accepted = await acceptInvitationAsUser(handle.db, ANONYMOUS, { token: again.token, userId: user.id, now: new Date() });
      expect(accepted.organizationId).toBe(dealer.id);
      const membership = await handle.db.selectFrom("memberships").select("role").where("user_id", "=", user.id).where("organization_id", "=", dealer.id).execute();
      expect(membership).toEqual([{ role: "owner" }]);
    });
  });

  describe("deposit through e-Pay", () => {
    let server: PaymentsServer;
    beforeAll(async () => {
      server = await startPaymentsServer(handle.db);
    });
    afterAll(async () => {
      await server?.close();
    });

    it("holds the link until the deposit is paid, then moves the money to the campaign's deposit account once", async () => {
      const world = await coreEnterprise(handle.db);
      const campaign = await publishedCampaign(handle.db, world, { depositFen: 2_000_000 });
      const { application, token } = await underReview(world, campaign.id);
      const approved = await approveApplication(handle.db, world.actor, world.coreId, application.id, { ...SECRET, now: new Date() });
      expect(approved.application.status).toBe("awaiting_deposit");
      expect((await getDealerLink(handle.db, world.coreId, approved.dealerLinkId)).status).toBe("suspended");
      expect((await getApplicationForReview(handle.db, world.coreId, application.id, { ...SECRET, now: new Date() })).invitation?.path).toBe(approved.invitationPath);
      const invitation = await findInvitationByToken(handle.db, approved.invitationPath!.slice(8), new Date());
      expect(invitation?.returnPath).toBe(`/join/${campaign.id}/deposit`);

      const dealerActor = { userId: null, organizationId: approved.dealerOrganizationId, ip: null, requestId: null };
      // Only the dealer's own organisation finds the deposit.
      await expect(getDepositForDealer(handle.db, world.coreId, campaign.id, new Date())).rejects.toMatchObject({ code: "not_found" });
      const failed = await startDepositPayment(handle.db, dealerActor, { dealerOrganizationId: approved.dealerOrganizationId, campaignId: campaign.id, now: new Date() }, server.deps());
      await payOnSandboxPage(failed.payUrl, "fail");
      await settleDeliveries(handle.db);
      const started = await startDepositPayment(handle.db, dealerActor, { dealerOrganizationId: approved.dealerOrganizationId, campaignId: campaign.id, now: new Date() }, server.deps());
      expect(started.paymentId).not.toBe(failed.paymentId);
      // Asking again while it is pending resumes the same payment.
      const resumed = await startDepositPayment(handle.db, dealerActor, { dealerOrganizationId: approved.dealerOrganizationId, campaignId: campaign.id, now: new Date() }, server.deps());
      expect(resumed.paymentId).toBe(started.paymentId);
      await payOnSandboxPage(started.payUrl, "pay");
      await settleDeliveries(handle.db);

      await fulfilPaymentStep({ db: handle.db, logger }, { paymentId: started.paymentId });
      await fulfilPaymentStep({ db: handle.db, logger }, { paymentId: started.paymentId });

      const after = await getApplicationByToken(handle.db, campaign.id, token, { ...SECRET, now: new Date() });
      expect(after.application).toMatchObject({ status: "approved", depositFen: 2_000_000, depositPaymentId: started.paymentId });
      expect(after.application.depositPaidAt).toBeInstanceOf(Date);
      expect(after.timeline.map((e) => e.event)).toEqual(["submit", "start_review", "approve", "deposit_paid"]);
      expect((await getDealerLink(handle.db, world.coreId, approved.dealerLinkId)).status).toBe("active");

      const held = await handle.db
        .selectFrom("ledger_accounts")
        .select(["kind", "organization_id", "credits_posted_fen", "debits_posted_fen"])
        .where("code", "=", depositAccountCode(campaign.id))
        .executeTakeFirstOrThrow();
      expect(held).toMatchObject({ kind: "dealer_deposits", organization_id: world.coreId, credits_posted_fen: 2_000_000, debits_posted_fen: 0 });
      const transfers = await handle.db.selectFrom("ledger_transfers").select(["idempotency_key", "amount_fen"]).where("kind", "=", "recruitment_deposit").where("reference", "=", `recruitment_application:${application.id}`).execute();
      expect(transfers).toEqual([{ idempotency_key: `recruitment:${application.id}:deposit`, amount_fen: 2_000_000 }]);
      await expect(startDepositPayment(handle.db, dealerActor, { dealerOrganizationId: approved.dealerOrganizationId, campaignId: campaign.id, now: new Date() }, server.deps())).rejects.toMatchObject({
        code: "invalid_state",
      });
      await expectLedgerClean(handle.db);
    });
  });
});
