import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import { get } from "svelte/store";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { KasaEvent } from "../bindings/KasaEvent";
import type { SaleResult } from "../bindings/SaleResult";
import { ApiFailure, appInfo, asApiError, eventsOpen, onEvent, payByCard, transport, uiReady } from "./api";

const sale: SaleResult = {
  sale_id: 7,
  state: "done",
  amount: 1250,
  card: {
    rrn: "123456789012",
    auth_code: "A1B2C3",
    masked_pan: "4111********1111",
    card_scheme: "VISA",
    terminal_id: "T0000001",
    merchant_id: "M01",
    invoice: "000042",
    amount: 1250,
    batch: "1",
    kind: "purchase",
    status: "approved",
    response_code: "0000",
    date_time: "2026-11-22T10:00:00",
    request_id: "",
  },
  fiscal_number: 101,
  decline: null,
  attention: null,
};

function jsonResponse(status: number, body: unknown): Response {
  return new Response(typeof body === "string" ? body : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

async function failureOf(p: Promise<unknown>): Promise<ApiFailure> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiFailure);
    return err as ApiFailure;
  }
  throw new Error("expected a rejection");
}

afterEach(() => {
  clearMocks();
  delete (window as unknown as Record<string, unknown>).__TAURI_INTERNALS__;
  vi.unstubAllGlobals();
});

describe("asApiError", () => {
  it("accepts the backend's shape and normalises details", () => {
    expect(asApiError({ code: "busy", message: "m" })).toEqual({
      code: "busy",
      message: "m",
      details: null,
      device_code: null,
    });
    expect(asApiError({ code: "busy", message: "m", details: "d" })).toEqual({
      code: "busy",
      message: "m",
      details: "d",
      device_code: null,
    });
    expect(asApiError({ code: "fiscal_error", message: "m", device_code: "fiscal.paper_out" })).toEqual({
      code: "fiscal_error",
      message: "m",
      details: null,
      device_code: "fiscal.paper_out",
    });
  });

  it("maps an unknown code to internal and keeps it in details", () => {
    expect(asApiError({ code: "paper_out", message: "m", details: null })).toEqual({
      code: "internal",
      message: "m",
      details: "code: paper_out",
      device_code: null,
    });
  });

  it("refuses what is not an ApiError", () => {
    expect(asApiError("boom")).toBeNull();
    expect(asApiError(null)).toBeNull();
    expect(asApiError({ message: "m" })).toBeNull();
  });
});

describe("over HTTP (kasa serve)", () => {
  it("uses HTTP when there is no Tauri", () => {
    expect(transport()).toBe("http");
  });

  it("GETs /api/info", async () => {
    const fetchMock = vi.fn(async () => jsonResponse(200, { version: "0.1.0", mode: "demo" }));
    vi.stubGlobal("fetch", fetchMock);
    await expect(appInfo()).resolves.toEqual({ version: "0.1.0", mode: "demo" });
    const [url, init] = fetchMock.mock.calls[0] as unknown as [URL, RequestInit];
    expect(String(url)).toBe(`${location.origin}/api/info`);
    expect(init.method).toBe("GET");
  });

  it("POSTs the amount to /api/sales/card", async () => {
    const fetchMock = vi.fn(async () => jsonResponse(200, sale));
    vi.stubGlobal("fetch", fetchMock);
    await expect(payByCard("12.50")).resolves.toEqual(sale);
    const [url, init] = fetchMock.mock.calls[0] as unknown as [URL, RequestInit];
    expect(String(url)).toBe(`${location.origin}/api/sales/card`);
    expect(init.method).toBe("POST");
    expect(JSON.parse(String(init.body))).toEqual({ amount: "12.50" });
    expect((init.headers as Record<string, string>)["content-type"]).toBe("application/json");
  });

  it("rejects with the server's ApiError", async () => {
    const body = { code: "invalid_amount", message: "amount must be positive", details: null, device_code: null };
    vi.stubGlobal("fetch", async () => jsonResponse(400, body));
    const failure = await failureOf(payByCard("-5"));
    expect(failure.error).toEqual(body);
  });

  it("turns a non-JSON error page into an internal error", async () => {
    vi.stubGlobal("fetch", async () => new Response("Bad Gateway", { status: 502, statusText: "Bad Gateway" }));
    const failure = await failureOf(payByCard("1.00"));
    expect(failure.error.code).toBe("internal");
    expect(failure.error.message).toContain("502");
    expect(failure.error.details).toBe("Bad Gateway");
  });

  it("turns a network failure into an internal error", async () => {
    vi.stubGlobal("fetch", async () => {
      throw new TypeError("Failed to fetch");
    });
    const failure = await failureOf(appInfo());
    expect(failure.error.code).toBe("internal");
    expect(failure.error.details).toContain("Failed to fetch");
  });

  it("uiReady does nothing", async () => {
    const fetchMock = vi.fn();
    vi.stubGlobal("fetch", fetchMock);
    await uiReady("Kasa");
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it("reads events from one shared EventSource on /api/events", () => {
    const sources: FakeEventSource[] = [];
    class FakeEventSource extends EventTarget {
      static readonly CONNECTING = 0;
      static readonly OPEN = 1;
      static readonly CLOSED = 2;
      readyState = 0;
      onopen: ((e: Event) => void) | null = null;
      onerror: ((e: Event) => void) | null = null;
      closed = false;
      constructor(readonly url: URL | string) {
        super();
        sources.push(this);
      }
      close() {
        this.closed = true;
        this.readyState = 2;
      }
      open() {
        this.readyState = 1;
        this.onopen?.(new Event("open"));
      }
      send(data: string, type = "message") {
        this.dispatchEvent(new MessageEvent(type, { data }));
      }
    }
    vi.stubGlobal("EventSource", FakeEventSource);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});

    const a: KasaEvent[] = [];
    const b: KasaEvent[] = [];
    const offA = onEvent((e) => a.push(e));
    const offB = onEvent((e) => b.push(e));
    expect(sources).toHaveLength(1);
    expect(String(sources[0].url)).toBe(`${location.origin}/api/events`);
    expect(get(eventsOpen)).toBe(false);
    sources[0].open();
    expect(get(eventsOpen)).toBe(true);

    sources[0].send(JSON.stringify({ type: "progress", sale_id: 1, status: "enter_pin" }));
    sources[0].send(JSON.stringify({ type: "state", sale_id: 1, state: "approved" }), "kasa-event");
    sources[0].send("not json");
    sources[0].send(JSON.stringify({ type: "progress", sale_id: "x" }));
    expect(a).toEqual([
      { type: "progress", sale_id: 1, status: "enter_pin" },
      { type: "state", sale_id: 1, state: "approved" },
    ]);
    expect(b).toEqual(a);
    expect(warn).toHaveBeenCalledTimes(2);

    offA();
    expect(sources[0].closed).toBe(false);
    offB();
    expect(sources[0].closed).toBe(true);
    expect(get(eventsOpen)).toBe(false);
  });
});

describe("in the desktop app (Tauri)", () => {
  it("invokes app_info", async () => {
    mockIPC((cmd) => (cmd === "app_info" ? { version: "0.1.0", mode: "production" } : undefined));
    expect(transport()).toBe("tauri");
    await expect(appInfo()).resolves.toEqual({ version: "0.1.0", mode: "production" });
  });

  it("invokes pay_by_card with { request: { amount } }", async () => {
    const calls: unknown[] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      return sale;
    });
    await expect(payByCard("12.50")).resolves.toEqual(sale);
    expect(calls).toEqual([["pay_by_card", { request: { amount: "12.50" } }]]);
  });

  it("rejects with the ApiError the command returned", async () => {
    const error = {
      code: "terminal_error",
      message: "link down",
      details: "ECONNREFUSED",
      device_code: "terminal.transport.io",
    };
    mockIPC(() => Promise.reject(error));
    const failure = await failureOf(payByCard("1.00"));
    expect(failure.error).toEqual(error);
  });

  it("wraps a plain string rejection as internal", async () => {
    mockIPC(() => Promise.reject("command pay_by_card not found"));
    const failure = await failureOf(payByCard("1.00"));
    expect(failure.error).toEqual({
      code: "internal",
      message: "command pay_by_card not found",
      details: null,
      device_code: null,
    });
  });

  it("invokes ui_ready with the summary", async () => {
    const calls: unknown[] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      return null;
    });
    await uiReady("Kasa Демо-режим");
    expect(calls).toEqual([["ui_ready", { summary: "Kasa Демо-режим" }]]);
  });

  it("listens to kasa-event", async () => {
    mockIPC(() => undefined, { shouldMockEvents: true });
    const got: KasaEvent[] = [];
    const off = onEvent((e) => got.push(e));
    await vi.waitFor(() => expect(get(eventsOpen)).toBe(true));
    await emit("kasa-event", { type: "progress", sale_id: 3, status: "authorising" });
    await vi.waitFor(() => expect(got).toEqual([{ type: "progress", sale_id: 3, status: "authorising" }]));
    off();
    expect(get(eventsOpen)).toBe(false);
  });
});
