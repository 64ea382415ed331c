// Placeholder in ts-rs output format, written by hand until the Rust crates generate this file (ts-rs overwrites it).

export type SaleState = "intent" | "terminal_sent" | "approved" | "fiscal_sent" | "done" | "declined" | "cancelled" | "needs_attention";
