// Placeholder in ts-rs output format, written by hand until the Rust crates generate this file (ts-rs overwrites it).
import type { CardTransaction } from "./CardTransaction";
import type { Decline } from "./Decline";
import type { SaleState } from "./SaleState";

export type SaleResult = { sale_id: number, state: SaleState, amount: number, card: CardTransaction | null, fiscal_number: number | null, decline: Decline | null, };
