// The installer's settings screen edits the settings file's JSON as it is
// (what the screen has no field for is kept untouched); these helpers read
// and write its nested fields by path (`fiscal.endpoint.baud`) and turn a
// port the scanner found into the device's settings.
import type { FieldError } from "../bindings/FieldError";
import type { PortReport } from "../bindings/PortReport";

export type Json = Record<string, unknown>;

/** The value at `path` (dot-separated), or undefined. */
export function getPath(doc: Json, path: string): unknown {
  let at: unknown = doc;
  for (const key of path.split(".")) {
    if (at === null || typeof at !== "object") return undefined;
    at = (at as Json)[key];
  }
  return at;
}

/** Sets the value at `path`, making the objects on the way. */
export function setPath(doc: Json, path: string, value: unknown): void {
  const keys = path.split(".");
  let at = doc;
  for (const key of keys.slice(0, -1)) {
    const next = at[key];
    if (next === null || typeof next !== "object" || Array.isArray(next)) at[key] = {};
    at = at[key] as Json;
  }
  at[keys[keys.length - 1]] = value;
}

/** A deep copy (the draft is edited apart from what was loaded). */
export function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** The candidate's device settings for a port the scanner found a device on. */
export function fromScan(doc: Json, port: PortReport): Json {
  const next = clone(doc);
  const tcp = port.path.startsWith("tcp://");
  const endpoint = (baud: number | null) =>
    tcp ? { kind: "tcp", address: port.path.slice("tcp://".length) } : { kind: "serial", path: port.path, baud: baud ?? 115200 };
  if (port.found.kind === "fiscal") {
    const fiscal = (next.fiscal as Json | undefined) ?? { operator: "1", till: "1" };
    fiscal.endpoint = endpoint(port.found.baud);
    fiscal.dialect = port.found.dialect;
    next.fiscal = fiscal;
  } else if (port.found.kind === "terminal") {
    const terminal = (next.terminal as Json | undefined) ?? {};
    terminal.protocol = port.found.protocol;
    terminal.endpoint = endpoint(port.found.baud);
    next.terminal = terminal;
  }
  return next;
}

/** The errors of one field (and of the fields under it). */
export function errorsOf(errors: FieldError[], path: string): FieldError[] {
  return errors.filter((e) => e.field === path || e.field.startsWith(`${path}.`));
}
