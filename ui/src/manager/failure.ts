// How a manager page names a failed call: the backend's error code, which the
// page translates (`error.<code>`), or `internal` for anything else.
import { ApiFailure } from "../lib/api";

export function failureCode(err: unknown): string {
  return err instanceof ApiFailure ? err.error.code : "internal";
}
