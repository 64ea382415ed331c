import { describe, expect, it } from "vitest";
import { itemsTotal, lineTotal, parseQuantity, toRequest } from "./items";

const line = (price: number, quantity_milli: number, discount = 0) => ({ name: "Хліб", price, quantity_milli, tax_group: "А", discount });

describe("items", () => {
  it("rounds a line half up to a kopiyka, as the register does, then takes the discount", () => {
    expect(lineTotal(line(1999, 1000))).toBe(1999);
    expect(lineTotal(line(1999, 1500))).toBe(2999); // 2998.5 → 2999
    expect(lineTotal(line(1001, 333))).toBe(333); // 333.333 → 333
    expect(lineTotal(line(1999, 2000, 500))).toBe(3498);
    expect(itemsTotal([line(1999, 1500), line(1000, 2000, 100)])).toBe(2999 + 1900);
  });

  it("keeps integers for the largest lines", () => {
    expect(lineTotal(line(1_000_000_000, 1_000_000))).toBe(1_000_000_000_000);
  });

  it("reads quantities in thousandths", () => {
    expect(parseQuantity("1")).toBe(1000);
    expect(parseQuantity("1,5")).toBe(1500);
    expect(parseQuantity("0.125")).toBe(125);
    for (const bad of ["", "0", "1,2345", "-1", "1e3", "abc"]) expect(parseQuantity(bad)).toBeNull();
  });

  it("sends no discount when there is none", () => {
    expect(toRequest([line(100, 1000)])[0].discount).toBeNull();
    expect(toRequest([line(100, 1000, 5)])[0].discount).toBe(5);
  });
});
