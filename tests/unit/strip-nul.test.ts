import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { StripNulBytes } from "../../app/entry.server";

describe("server render stream", () => {
  it("drops the zero bytes React 18 leaves where a multi-byte character straddles its buffer", async () => {
    const text = "合作已暂停";
    const bytes = Buffer.from(text, "utf8");
    // What React writes: the first character, zero padding up to its buffer's end, then the rest.
    const chunks = [Buffer.concat([bytes.subarray(0, 3), Buffer.alloc(2)]), bytes.subarray(3)];
    const out: Buffer[] = [];
    for await (const chunk of Readable.from(chunks).pipe(new StripNulBytes())) out.push(chunk as Buffer);
    expect(Buffer.concat(out).toString("utf8")).toBe(text);
  });
});
