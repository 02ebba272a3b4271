import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * One module writes each table (issue 13): outbox rows through app/domain/outbox, audit rows
 * through app/domain/shared/audit.server.ts (recordAudit(s), or auditClause inside a caller's
 * statement). Any other source file under app/, jobs/ or workflows/ that inserts, updates or
 * deletes those rows itself — with Kysely or in raw SQL — fails this test, naming the file and line.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SCANNED = ["app", "jobs", "workflows"];
const OWNERS: Record<string, (file: string) => boolean> = {
  outbox: (file) => file.startsWith("app/domain/outbox/"),
  audit_events: (file) => file === "app/domain/shared/audit.server.ts",
};

function writesTo(table: string): RegExp[] {
  return [
    new RegExp(`\\b(insertInto|updateTable|deleteFrom)\\(\\s*["'\`]${table}\\b`),
    new RegExp(`\\binsertFromArrays\\(\\s*["'\`]${table}["'\`]`),
    new RegExp(`\\binsert\\s+into\\s+"?${table}"?[\\s(]`, "i"),
    new RegExp(`\\bupdate\\s+"?${table}"?\\s+(set|as|[a-z]\\s+set)\\b`, "i"),
    new RegExp(`\\bdelete\\s+from\\s+"?${table}"?\\b`, "i"),
  ];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return /\.(ts|tsx)$/.test(name) ? [full] : [];
  });
}

export function findForeignWrites(files: { path: string; text: string }[]): string[] {
  const found: string[] = [];
  for (const { path: file, text } of files) {
    text.split("\n").forEach((line, i) => {
      for (const [table, owns] of Object.entries(OWNERS)) {
        if (owns(file)) continue;
        if (writesTo(table).some((pattern) => pattern.test(line))) found.push(`${file}:${i + 1} writes ${table}: ${line.trim().slice(0, 120)}`);
      }
    });
  }
  return found;
}

describe("one writer per table", () => {
  it("finds a raw write into the outbox or audit_events outside their modules (the check itself)", () => {
    const planted = [
      { path: "app/domain/market/x.server.ts", text: 'await trx.insertInto("outbox").values(row).execute();' },
      { path: "app/domain/orders/y.server.ts", text: "  insert into audit_events (action) values ('x')" },
      { path: "jobs/z.ts", text: "await sql`update outbox set published_at = now()`" },
      { path: "app/domain/outbox/outbox.server.ts", text: 'await trx.insertInto("outbox").values(row).execute();' },
      { path: "app/domain/shared/audit.server.ts", text: "insert into audit_events (a) select 1" },
    ];
    expect(findForeignWrites(planted).map((f) => f.split(":")[0])).toEqual(["app/domain/market/x.server.ts", "app/domain/orders/y.server.ts", "jobs/z.ts"]);
  });

  it("has no such write in app/, jobs/ or workflows/", () => {
    const files = SCANNED.flatMap((dir) => sourceFiles(path.join(ROOT, dir))).map((full) => ({
      path: path.relative(ROOT, full).split(path.sep).join("/"),
      text: readFileSync(full, "utf8"),
    }));
    expect(files.length).toBeGreaterThan(100);
    expect(findForeignWrites(files)).toEqual([]);
  });
});
