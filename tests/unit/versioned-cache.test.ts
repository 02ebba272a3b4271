import { describe, expect, it } from "vitest";
import { VersionedCache, type ReliedVersions } from "../../app/domain/orders/reference-versions.server";

describe("kept reads under versions", () => {
  it("gives values only while they agree on each organisation's version, and relies on exactly those", () => {
    const cache = new VersionedCache(10);
    cache.keep("link:a", "link read at a=3, d=7", [
      ["a", 3],
      ["d", 7],
    ]);
    cache.keep("sku:a:1", "sku read at a=3", [["a", 3]]);
    cache.keep("sku:a:2", "sku read at a=4", [["a", 4]]);
    cache.keep("credit", "a hint", []);

    const relied: ReliedVersions = new Map();
    expect(cache.take("link:a", relied)).toBe("link read at a=3, d=7");
    expect(cache.take("sku:a:1", relied)).toBe("sku read at a=3");
    expect(cache.take("credit", relied)).toBe("a hint");
    expect([...relied]).toEqual([
      ["a", 3],
      ["d", 7],
    ]);
    // Read at another version of an organisation already relied on: not given, and nothing added.
    expect(cache.take("sku:a:2", relied)).toBeUndefined();
    expect(cache.take("nothing kept", relied)).toBeUndefined();
    expect([...relied]).toEqual([
      ["a", 3],
      ["d", 7],
    ]);
    // A fresh batch may rely on the newer version instead.
    expect(cache.take("sku:a:2", new Map())).toBe("sku read at a=4");
  });

  it("keeps at most its bound, dropping the entry kept longest ago; keeping a key again renews it", () => {
    const cache = new VersionedCache(3);
    for (const key of ["k1", "k2", "k3"]) cache.keep(key, key, []);
    cache.keep("k1", "k1 again", []);
    cache.keep("k4", "k4", []);
    expect(cache.size).toBe(3);
    expect(cache.take("k2", new Map())).toBeUndefined();
    expect(["k1", "k3", "k4"].map((key) => cache.take(key, new Map()))).toEqual(["k1 again", "k3", "k4"]);
  });
});
