// The lines of a sale with items, as the cashier enters them: quantities in
// thousandths, prices and discounts in kopiykas, and each line's total
// rounded as the fiscal register rounds it (half up), in integers.
import type { ItemRequest } from "../bindings/ItemRequest";

export type ItemLine = { name: string; price: number; quantity_milli: number; tax_group: string; discount: number };

export const TAX_GROUPS = ["А", "Б", "В", "Г", "Д"] as const;

/** The line's total: price × quantity rounded half up to a kopiyka, less the discount. */
export function lineTotal(line: ItemLine): number {
  const p = BigInt(line.price) * BigInt(line.quantity_milli);
  return Number((p + 500n) / 1000n) - line.discount;
}

export function itemsTotal(lines: readonly ItemLine[]): number {
  return lines.reduce((sum, l) => sum + lineTotal(l), 0);
}

const QUANTITY = /^(\d{1,7})(?:[.,](\d{1,3}))?$/;

/** "1" → 1000, "1,5" → 1500, "0.125" → 125; null if it is not a quantity from 0,001 to 1 000 000. */
export function parseQuantity(input: string): number | null {
  const m = QUANTITY.exec(input.trim());
  if (!m) return null;
  const milli = Number(m[1]) * 1000 + Number((m[2] ?? "").padEnd(3, "0"));
  return milli >= 1 && milli <= 1_000_000_000 ? milli : null;
}

/** The request's lines. */
export function toRequest(lines: readonly ItemLine[]): ItemRequest[] {
  return lines.map((l) => ({
    name: l.name,
    price: l.price,
    quantity_milli: l.quantity_milli,
    tax_group: l.tax_group,
    discount: l.discount > 0 ? l.discount : null,
  }));
}
