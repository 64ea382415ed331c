// Placeholder in ts-rs output format, written by hand until the Rust crates generate this file (ts-rs overwrites it).
import type { ErrorCode } from "./ErrorCode";

export type ApiError = { code: ErrorCode, message: string, details: string | null, };
