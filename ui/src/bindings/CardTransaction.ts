// Placeholder in ts-rs output format, written by hand until the Rust crates generate this file (ts-rs overwrites it).

export type CardTransaction = { rrn: string, auth_code: string, masked_pan: string, card_scheme: string, terminal_id: string, merchant_id: string, invoice: string, amount: number, };
