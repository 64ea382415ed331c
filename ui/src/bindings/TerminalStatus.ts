// Placeholder in ts-rs output format, written by hand until the Rust crates generate this file (ts-rs overwrites it).

export type TerminalStatus = "connecting" | "waiting_for_card" | "card_read" | "chip_processing" | "enter_pin" | "authorising" | "printing" | "remove_card" | "finished";
