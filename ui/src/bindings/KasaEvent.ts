// Placeholder in ts-rs output format, written by hand until the Rust crates generate this file (ts-rs overwrites it).
import type { SaleState } from "./SaleState";
import type { TerminalStatus } from "./TerminalStatus";

export type KasaEvent = { "type": "progress", sale_id: number, status: TerminalStatus, } | { "type": "state", sale_id: number, state: SaleState, };
