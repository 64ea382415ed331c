// Placeholder in ts-rs output format, written by hand until the Rust crates generate this file (ts-rs overwrites it).

export type AppInfo = { version: string, mode: string, };
