// The one module that knows how the UI talks to the backend.
//
// In the desktop app (Tauri 2) it uses commands and the `kasa-event` event;
// under `kasa serve` it uses HTTP (JSON) and server-sent events. The choice is
// made at run time, at each call, by looking for `window.__TAURI_INTERNALS__`.
// Nothing else in the UI imports @tauri-apps/*.
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import { writable, type Readable } from "svelte/store";
import type { ReceiptTape } from "../bindings/ReceiptTape";
import type { ApiError } from "../bindings/ApiError";
import type { AppInfo } from "../bindings/AppInfo";
import type { KasaEvent } from "../bindings/KasaEvent";
import type { SaleResult } from "../bindings/SaleResult";
import { isErrorCode } from "./enums";

export type { ApiError, AppInfo, KasaEvent, ReceiptTape, SaleResult };

/** Tauri event name carrying a KasaEvent payload. */
export const TAURI_EVENT = "kasa-event";
/** Paths of the HTTP API under `kasa serve`. */
export const HTTP = {
  info: "/api/info",
  cardSale: "/api/sales/card",
  events: "/api/events",
  tape: "/api/tape",
} as const;

/** A failed call: carries the backend's ApiError (or one made up for a transport failure). */
export class ApiFailure extends Error {
  readonly error: ApiError;

  constructor(error: ApiError) {
    super(`${error.code}: ${error.message}`);
    this.name = "ApiFailure";
    this.error = error;
  }
}

export type Transport = "tauri" | "http";

export function transport(): Transport {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window ? "tauri" : "http";
}

/** Reads an ApiError out of whatever the backend rejected with; null if it is not one. */
export function asApiError(value: unknown): ApiError | null {
  if (typeof value !== "object" || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.code !== "string" || typeof v.message !== "string") return null;
  const details = typeof v.details === "string" ? v.details : null;
  const device_code = typeof v.device_code === "string" ? v.device_code : null;
  if (isErrorCode(v.code)) return { code: v.code, message: v.message, details, device_code };
  // A code this UI does not know yet: keep the text, branch on it as internal.
  return { code: "internal", message: v.message, details: details ?? `code: ${v.code}`, device_code };
}

function failureFrom(reason: unknown): ApiFailure {
  if (reason instanceof ApiFailure) return reason;
  const apiError = asApiError(reason);
  if (apiError) return new ApiFailure(apiError);
  const message = typeof reason === "string" ? reason : reason instanceof Error ? reason.message : String(reason);
  return new ApiFailure({ code: "internal", message, details: null, device_code: null });
}

async function tauriCall<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (reason) {
    throw failureFrom(reason);
  }
}

async function httpCall<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(new URL(path, location.origin), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (reason) {
    throw new ApiFailure({
      code: "internal",
      message: "network error",
      details: String(reason),
      device_code: null,
    });
  }
  const text = await response.text();
  let json: unknown = undefined;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    // handled below
  }
  if (!response.ok) {
    throw new ApiFailure(
      asApiError(json) ?? {
        code: response.status === 404 ? "not_found" : "internal",
        message: `HTTP ${response.status} ${response.statusText}`.trim(),
        details: text.slice(0, 500) || null,
        device_code: null,
      },
    );
  }
  if (json === undefined) {
    throw new ApiFailure({
      code: "internal",
      message: "invalid JSON from the server",
      details: text.slice(0, 500),
      device_code: null,
    });
  }
  return json as T;
}

/** Version and mode ("demo" or "production") of the running backend. */
export function appInfo(): Promise<AppInfo> {
  return transport() === "tauri" ? tauriCall<AppInfo>("app_info") : httpCall<AppInfo>("GET", HTTP.info);
}

/**
 * Takes a card payment of `amount` (a decimal string in hryvnias, "12.50").
 * Resolves with the sale's outcome (done, declined, cancelled, needs_attention);
 * rejects with an ApiFailure when the sale could not be run at all.
 */
export function payByCard(amount: string): Promise<SaleResult> {
  return transport() === "tauri"
    ? tauriCall<SaleResult>("pay_by_card", { request: { amount } })
    : httpCall<SaleResult>("POST", HTTP.cardSale, { amount });
}

/** The last `last` documents the emulated fiscal register printed (demo mode's virtual tape). */
export function receiptTape(last = 3): Promise<ReceiptTape> {
  return transport() === "tauri"
    ? tauriCall<ReceiptTape>("receipt_tape", { last })
    : httpCall<ReceiptTape>("GET", `${HTTP.tape}?last=${last}`);
}

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
  if (typeof v.sale_id !== "number") return false;
  return (v.type === "progress" && typeof v.status === "string") || (v.type === "state" && typeof v.state === "string");
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

/** Subscribes to backend events (terminal progress, sale state changes). Returns the unsubscribe function. */
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
