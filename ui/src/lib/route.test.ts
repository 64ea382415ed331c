import { describe, expect, it } from "vitest";
import { href, parseHash, type Route } from "./route.svelte";

describe("routes", () => {
  it("reads each page from its hash, and back", () => {
    const routes: Route[] = [
      { screen: "cashier" },
      { screen: "days" },
      { screen: "day", day: "2026-11-25" },
      { screen: "transactions" },
      { screen: "operation", id: 42 },
      { screen: "close" },
      { screen: "settings" },
    ];
    for (const r of routes) expect(parseHash(href(r))).toEqual(r);
  });

  it("a malformed hash falls back to a page that exists", () => {
    expect(parseHash("#/day/yesterday")).toEqual({ screen: "days" });
    expect(parseHash("#/operation/-1")).toEqual({ screen: "transactions" });
    expect(parseHash("#/operation/1e400")).toEqual({ screen: "transactions" });
    expect(parseHash("#/nowhere")).toEqual({ screen: "cashier" });
    expect(parseHash("")).toEqual({ screen: "cashier" });
  });
});
