// Placeholder in ts-rs output format, written by hand until the Rust crates generate this file (ts-rs overwrites it).

export type ErrorCode = "invalid_amount" | "terminal_error" | "fiscal_error" | "busy" | "storage" | "not_found" | "internal";
