import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyForOrderFinancing } from "../../app/domain/financing/applications.server";
import { createTestDatabase, type TestDatabase } from "../support/db";
import { createUser } from "../support/factories";
import type { Client } from "../support/web";
import { newOrg } from "./catalog.fixtures";
import { confirmedOrder, financingWorld, runFinancingJobs } from "./financing.fixtures";
import { loggedIn, startPaymentsServer, type PaymentsServer } from "./payments.fixtures";

/**
 * /financing/loans/<loanId>/contract.pdf: the loan's contract summary and schedule, for the same
 * readers as the loan page. The loan is the fixtures' order financing of 5 × ¥1,000 (bullet,
 * 90 days): one instalment of 500,000 fen principal and 5,438 fen interest.
 */
describe("financing: the loan contract PDF", () => {
  let t: TestDatabase;
  let server: PaymentsServer;
  beforeAll(async () => {
    t = await createTestDatabase({ poolMax: 20 });
    server = await startPaymentsServer(t.db);
  }, 240_000);
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  /** The Client reads bodies as text; a PDF is bytes, so fetch with the client's session cookie. */
  async function download(client: Client, pathname: string) {
    const cookie = [...client.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await fetch(new URL(pathname, server.url), { headers: { Cookie: cookie }, redirect: "manual" });
    return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
  }

  it("downloads for the borrower, the guarantor and the bank, and is a 404 for another dealer", async () => {
    const w = await financingWorld(t.db);
    const bankOfficer = await createUser(t.db, { memberships: [[w.bankId, "credit_officer"]] });
    const dealerOwner = await createUser(t.db, { memberships: [[w.dealer, "owner"]] });
    const coreOwner = await createUser(t.db, { memberships: [[w.core, "owner"]] });
    const now = new Date();
    const order = await confirmedOrder(t.db, w, 5, now);
    const app = await applyForOrderFinancing(t.db, w.asDealer, order.id, now);
    await runFinancingJobs(t.db, now);
    const loan = await t.db.selectFrom("loans").select(["id", "number"]).where("application_id", "=", app.id).executeTakeFirstOrThrow();
    const pdfPath = `/financing/loans/${loan.id}/contract.pdf`;

    let first: Buffer | null = null;
    for (const user of [dealerOwner, coreOwner, bankOfficer]) {
      const res = await download(await loggedIn(server.url, user), pdfPath);
      expect(res.status, user.email).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/pdf");
      expect(res.headers.get("content-disposition")).toBe(`attachment; filename="loan-${loan.number}.pdf"`);
      expect(res.bytes.subarray(0, 5).toString("latin1")).toBe("%PDF-");
      // The CJK font is embedded (subset): its name is in the font dictionaries, which are not compressed.
      expect(res.bytes.toString("latin1")).toContain("NotoSansSC-Regular");
      first ??= res.bytes;
    }

    const other = await newOrg(t.db, "dealer");
    const stranger = await loggedIn(server.url, await createUser(t.db, { memberships: [[other, "owner"]] }));
    const refused = await download(stranger, pdfPath);
    expect(refused.status).toBe(404);
    expect(refused.headers.get("content-type")).not.toBe("application/pdf");
    // A loan id that does not exist reads the same.
    expect((await download(stranger, `/financing/loans/${crypto.randomUUID()}/contract.pdf`)).status).toBe(404);

    // Poppler opens it and renders page 1.
    const dir = mkdtempSync(path.join(os.tmpdir(), "contract-pdf-"));
    try {
      writeFileSync(path.join(dir, "contract.pdf"), first!);
      execFileSync("pdftoppm", ["-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", path.join(dir, "contract.pdf"), path.join(dir, "page1")]);
      expect(statSync(path.join(dir, "page1.png")).size).toBeGreaterThan(0);
      // The text as a reader copies it (the borrower's copy: Chinese, the default language).
      // Hand-worked: principal ¥5,000.00 = 伍仟元整; interest 500,000 × 43,500 × 90 / 360,000,000
      // = 5,437.5 → half to even 5,438 fen; total 505,438 fen; penalty rate 4.35% × 1.5 = 6.525%.
      // Spacing is the extractor's guess, so it is taken out before comparing.
      const text = execFileSync("pdftotext", [path.join(dir, "contract.pdf"), "-"]).toString("utf8").replace(/\s+/g, "");
      for (const expected of ["贷款合同要素及还款计划", loan.number, "¥5,000.00", "伍仟元整", "4.35%", "6.525%", "到期一次还本付息", "54.38", "5,054.38", "第1页/共1页"]) {
        expect(text).toContain(expected);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
