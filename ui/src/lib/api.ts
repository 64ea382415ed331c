// The one module that knows how the UI talks to the backend.
//
// Every command is declared once in Rust (checkout/src/commands.rs); the
// generated `client(call)` in src/bindings/commands.ts gives one typed
// function per command over a `call(name, request)`. This module provides
// that `call`:
//
// - in the desktop app (Tauri 2): `invoke("rpc", { name, request })`;
// - under `kasa serve` (HTTP): `POST /api/cmd/<name>` with the request as JSON.
//
// and the backend's events: the Tauri event `kasa-event`, or server-sent
// events on `GET /api/events`; each one a `KasaEvent`. The transport is chosen
// at run time, at each call, by looking for `window.__TAURI_INTERNALS__`.
// Nothing else in the UI imports @tauri-apps/*.
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import { writable, type Readable } from "svelte/store";
import type { ApiError } from "../bindings/ApiError";
import { client, type Call, type CommandName, type Commands } from "../bindings/commands";
import type { KasaEvent } from "../bindings/KasaEvent";
import { isErrorCode, isOperationState } from "./enums";

export type { ApiError, KasaEvent };

/** Tauri event name carrying a KasaEvent payload. */
export const TAURI_EVENT = "kasa-event";
/** The Tauri command that runs any declared command. */
export const TAURI_RPC = "rpc";
/** Paths of the HTTP API under `kasa serve`. */
export const HTTP = {
  command: (name: string) => `/api/cmd/${encodeURIComponent(name)}`,
  events: "/api/events",
} as const;

/**
 * A failed call. `error` is the backend's ApiError, or one made up for a
 * failure of the transport. `uncertain` is true when the request may or may
 * not have reached Kasa (the connection failed, or something other than Kasa
 * answered): a state-changing request must then be sent again with the same
 * key, which never does it twice, to learn what became of it.
 */
export class ApiFailure extends Error {
  readonly error: ApiError;
  readonly uncertain: boolean;

  constructor(error: ApiError, uncertain = false) {
    super(`${error.code}: ${error.message}`);
    this.name = "ApiFailure";
    this.error = error;
    this.uncertain = uncertain;
  }
}

export type Transport = "tauri" | "http";

export function transport(): Transport {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window ? "tauri" : "http";
}

/** An error made up here (a failure of the transport, not an answer of Kasa's): code `internal`. */
export function internalError(message: string, details: string | null = null): ApiError {
  return { code: "internal", message, details, device_code: null, operation: null };
}

/** Reads an ApiError out of whatever the backend rejected with; null if it is not one. */
export function asApiError(value: unknown): ApiError | null {
  if (typeof value !== "object" || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.code !== "string" || typeof v.message !== "string") return null;
  const details = typeof v.details === "string" ? v.details : null;
  const device_code = typeof v.device_code === "string" ? v.device_code : null;
  // The operation the error is about (for `unresolved`, the one that blocks).
  const operation = typeof v.operation === "number" && Number.isSafeInteger(v.operation) ? v.operation : null;
  if (isErrorCode(v.code)) return { code: v.code, message: v.message, details, device_code, operation };
  // A code this UI does not know yet: keep the text, branch on it as internal.
  return { code: "internal", message: v.message, details: details ?? `code: ${v.code}`, device_code, operation };
}

function failureFrom(reason: unknown): ApiFailure {
  if (reason instanceof ApiFailure) return reason;
  const apiError = asApiError(reason);
  if (apiError) return new ApiFailure(apiError);
  const message = typeof reason === "string" ? reason : reason instanceof Error ? reason.message : String(reason);
  return new ApiFailure(internalError(message));
}

async function tauriCall(name: string, request: unknown): Promise<unknown> {
  try {
    return await invoke(TAURI_RPC, { name, request });
  } catch (reason) {
    throw failureFrom(reason);
  }
}

async function httpCall(name: string, request: unknown): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(new URL(HTTP.command(name), location.origin), {
      method: "POST",
      headers: { accept: "application/json", "content-type": "application/json" },
      body: JSON.stringify(request ?? {}),
    });
  } catch (reason) {
    throw new ApiFailure(internalError("network error", String(reason)), true);
  }
  let text: string;
  try {
    text = await response.text();
  } catch (reason) {
    // The answer was cut off: whatever it said is lost.
    throw new ApiFailure(internalError("the answer was cut off", String(reason)), true);
  }
  let json: unknown = undefined;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    // handled below
  }
  if (!response.ok) {
    const apiError = asApiError(json);
    if (apiError) throw new ApiFailure(apiError);
    // Not Kasa's JSON (a proxy's error page...): we cannot tell what Kasa did.
    throw new ApiFailure(internalError(`HTTP ${response.status} ${response.statusText}`.trim(), text.slice(0, 500) || null), true);
  }
  if (json === undefined) {
    throw new ApiFailure(internalError("invalid JSON from the server", text.slice(0, 500)), true);
  }
  return json;
}

/** Runs command `name` on the backend, over Tauri or HTTP. Rejects with an ApiFailure. */
export const call: Call = <K extends CommandName>(name: K, request: Commands[K]["request"]) =>
  (transport() === "tauri" ? tauriCall(name, request) : httpCall(name, request)) as Promise<
    Commands[K]["response"]
  >;

/** The typed API: one function per declared command (`api.sale({...})`, `api.current({})`...). */
export const api = client(call);
export type Api = typeof api;

/** Tells the desktop shell the first screen has rendered (its smoke test waits for this). No-op over HTTP. */
export async function uiReady(summary: string): Promise<void> {
  if (transport() !== "tauri") return;
  try {
    await invoke("ui_ready", { summary });
  } catch (reason) {
    console.warn("ui_ready failed", reason);
  }
}

// ---------------------------------------------------------------------------
// Events: one connection shared by every subscriber.

export function isKasaEvent(value: unknown): value is KasaEvent {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  if (v.type === "progress") return typeof v.operation === "number" && typeof v.status === "string";
  if (v.type === "operation") {
    const op = v.operation as Record<string, unknown> | null;
    return (
      typeof op === "object" &&
      op !== null &&
      typeof op.id === "number" &&
      typeof op.key === "string" &&
      isOperationState(op.state) &&
      Array.isArray(op.payments) &&
      Array.isArray(op.documents)
    );
  }
  return false;
}

type Listener = (event: KasaEvent) => void;
type Connection = { close(): void };

const listeners = new Set<Listener>();
let connection: Connection | null = null;
const eventsOpenStore = writable(false);

/** True while the event stream (SSE or Tauri listener) is connected. */
export const eventsOpen: Readable<boolean> = { subscribe: eventsOpenStore.subscribe };

function dispatch(event: unknown): void {
  if (!isKasaEvent(event)) {
    console.warn("ignoring a malformed event", event);
    return;
  }
  for (const listener of [...listeners]) {
    try {
      listener(event);
    } catch (err) {
      console.error("event listener failed", err);
    }
  }
}

function connectTauri(): Connection {
  let closed = false;
  let unlisten: (() => void) | null = null;
  listen<unknown>(TAURI_EVENT, (e) => dispatch(e.payload)).then(
    (fn) => {
      if (closed) fn();
      else {
        unlisten = fn;
        eventsOpenStore.set(true);
      }
    },
    (err) => console.error("cannot listen to backend events", err),
  );
  return {
    close() {
      closed = true;
      unlisten?.();
      eventsOpenStore.set(false);
    },
  };
}

const SSE_RETRY_MS = 2000;

function connectSse(): Connection {
  let closed = false;
  let source: EventSource | null = null;
  let retry: ReturnType<typeof setTimeout> | null = null;

  const onMessage = (m: MessageEvent) => {
    try {
      dispatch(JSON.parse(String(m.data)));
    } catch (err) {
      console.warn("ignoring an event that is not JSON", m.data, err);
    }
  };

  const open = () => {
    if (closed) return;
    const es = new EventSource(new URL(HTTP.events, location.origin));
    source = es;
    es.onopen = () => eventsOpenStore.set(true);
    // Unnamed events arrive as "message"; accept the Tauri event name too, should the server name them.
    es.addEventListener("message", onMessage);
    es.addEventListener(TAURI_EVENT, onMessage as EventListener);
    es.onerror = () => {
      eventsOpenStore.set(es.readyState === EventSource.OPEN);
      if (es.readyState === EventSource.CLOSED && !closed) {
        // The browser gives up on a bad response; keep trying ourselves.
        retry = setTimeout(open, SSE_RETRY_MS);
      }
    };
  };
  open();

  return {
    close() {
      closed = true;
      if (retry) clearTimeout(retry);
      source?.close();
      eventsOpenStore.set(false);
    },
  };
}

/** Subscribes to backend events (terminal progress, operation changes). Returns the unsubscribe function. */
export function onEvent(cb: (e: KasaEvent) => void): () => void {
  listeners.add(cb);
  if (!connection) connection = transport() === "tauri" ? connectTauri() : connectSse();
  return () => {
    listeners.delete(cb);
    if (listeners.size === 0 && connection) {
      connection.close();
      connection = null;
    }
  };
}
