import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import { get } from "svelte/store";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { KasaEvent } from "../bindings/KasaEvent";
import type { OperationView } from "../bindings/OperationView";
import { ApiFailure, api, asApiError, call, eventsOpen, isKasaEvent, onEvent, transport, uiReady } from "./api";

const sale: OperationView = {
  id: 7,
  key: "k-1",
  kind: "sale",
  state: "done",
  total: 1250,
  paid: 1250,
  remaining: 0,
  cash_due: 0,
  change: 0,
  payments: [],
  documents: [{ kind: "sale_receipt", number: 101, amount: 1250, text: null }],
  step: null,
  original_id: null,
  problem: null,
  business_day: "2026-11-22",
  created_at: "2026-11-22T10:00:00Z",
  updated_at: "2026-11-22T10:00:01Z",
};

const saleRequest = {
  key: "k-1",
  items: [],
  amount: 1250,
  payments: [{ method: "card" as const, amount: 1250 }],
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
      operation: null,
    });
    expect(asApiError({ code: "busy", message: "m", details: "d" })).toEqual({
      code: "busy",
      message: "m",
      details: "d",
      device_code: null,
      operation: null,
    });
    expect(asApiError({ code: "fiscal_error", message: "m", device_code: "fiscal.paper_out" })).toEqual({
      code: "fiscal_error",
      message: "m",
      details: null,
      device_code: "fiscal.paper_out",
      operation: null,
    });
  });

  it("keeps the operation the error is about (the one that blocks), and only a whole number", () => {
    const blocked = { code: "unresolved", message: "operation 5 is unresolved", details: null, device_code: "fiscal.paper_out", operation: 5 };
    expect(asApiError(blocked)).toEqual(blocked);
    expect(asApiError({ ...blocked, operation: "5" })?.operation).toBeNull();
    expect(asApiError({ ...blocked, operation: 1.5 })?.operation).toBeNull();
    expect(asApiError({ ...blocked, operation: null })?.operation).toBeNull();
  });

  it("maps an unknown code to internal and keeps it in details", () => {
    expect(asApiError({ code: "paper_out", message: "m", details: null })).toEqual({
      code: "internal",
      message: "m",
      details: "code: paper_out",
      device_code: null,
      operation: null,
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

  it("POSTs each command as JSON to /api/cmd/<name>", async () => {
    const fetchMock = vi.fn(async () => jsonResponse(200, { version: "0.1.0", mode: "demo" }));
    vi.stubGlobal("fetch", fetchMock);
    await expect(api.info({})).resolves.toEqual({ version: "0.1.0", mode: "demo" });
    const [url, init] = fetchMock.mock.calls[0] as unknown as [URL, RequestInit];
    expect(String(url)).toBe(`${location.origin}/api/cmd/info`);
    expect(init.method).toBe("POST");
    expect(init.body).toBe("{}");
    expect((init.headers as Record<string, string>)["content-type"]).toBe("application/json");
  });

  it("sends a sale with its key and the amount as an integer of kopiykas", async () => {
    const fetchMock = vi.fn(async () => jsonResponse(200, sale));
    vi.stubGlobal("fetch", fetchMock);
    await expect(api.sale(saleRequest)).resolves.toEqual(sale);
    const [url, init] = fetchMock.mock.calls[0] as unknown as [URL, RequestInit];
    expect(String(url)).toBe(`${location.origin}/api/cmd/sale`);
    expect(init.body).toBe('{"key":"k-1","items":[],"amount":1250,"payments":[{"method":"card","amount":1250}]}');
  });

  it("call() and the typed client reach the same command", async () => {
    const fetchMock = vi.fn(async () => jsonResponse(200, { operation: null }));
    vi.stubGlobal("fetch", fetchMock);
    await expect(call("current", {})).resolves.toEqual({ operation: null });
    await expect(api.by_key({ key: "k-1" })).resolves.toEqual({ operation: null });
    const urls = fetchMock.mock.calls.map((c) => String((c as unknown as [URL])[0]));
    expect(urls).toEqual([`${location.origin}/api/cmd/current`, `${location.origin}/api/cmd/by_key`]);
  });

  it("rejects with the server's ApiError, which is a definite answer", async () => {
    const body = { code: "invalid_amount", message: "amount must be positive", details: null, device_code: null, operation: null };
    vi.stubGlobal("fetch", async () => jsonResponse(400, body));
    const failure = await failureOf(api.sale({ ...saleRequest, amount: -5 }));
    expect(failure.error).toEqual(body);
    expect(failure.uncertain).toBe(false);
  });

  it("keeps a device code and turns an unknown error code into internal", async () => {
    vi.stubGlobal("fetch", async () =>
      jsonResponse(502, { code: "printer_on_fire", message: "m", details: null, device_code: "fiscal.paper_out" }),
    );
    const failure = await failureOf(api.sale(saleRequest));
    expect(failure.error).toEqual({
      code: "internal",
      message: "m",
      details: "code: printer_on_fire",
      device_code: "fiscal.paper_out",
      operation: null,
    });
    expect(failure.uncertain).toBe(false);
  });

  it("turns a non-JSON error page into an uncertain internal error", async () => {
    vi.stubGlobal("fetch", async () => new Response("Bad Gateway", { status: 502, statusText: "Bad Gateway" }));
    const failure = await failureOf(api.sale(saleRequest));
    expect(failure.error.code).toBe("internal");
    expect(failure.error.message).toContain("502");
    expect(failure.error.details).toBe("Bad Gateway");
    expect(failure.uncertain).toBe(true);
  });

  it("turns a network failure into an uncertain internal error", async () => {
    vi.stubGlobal("fetch", async () => {
      throw new TypeError("Failed to fetch");
    });
    const failure = await failureOf(api.info({}));
    expect(failure.error.code).toBe("internal");
    expect(failure.error.details).toContain("Failed to fetch");
    expect(failure.uncertain).toBe(true);
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

    sources[0].send(JSON.stringify({ type: "progress", operation: 1, status: "enter_pin" }));
    sources[0].send(JSON.stringify({ type: "operation", operation: sale }), "kasa-event");
    sources[0].send("not json");
    sources[0].send(JSON.stringify({ type: "progress", operation: "x" }));
    expect(a).toEqual([
      { type: "progress", operation: 1, status: "enter_pin" },
      { type: "operation", operation: sale },
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

describe("isKasaEvent", () => {
  it("accepts the two kinds of event and refuses the old ones", () => {
    expect(isKasaEvent({ type: "progress", operation: 3, status: "authorising" })).toBe(true);
    expect(isKasaEvent({ type: "operation", operation: sale })).toBe(true);
    expect(isKasaEvent({ type: "progress", sale_id: 3, status: "authorising" })).toBe(false);
    expect(isKasaEvent({ type: "state", sale_id: 3, state: "approved" })).toBe(false);
    expect(isKasaEvent({ type: "operation", operation: { ...sale, state: "intent" } })).toBe(false);
    expect(isKasaEvent({ type: "operation", operation: null })).toBe(false);
  });
});

describe("in the desktop app (Tauri)", () => {
  it("runs every command through rpc(name, request)", async () => {
    const calls: unknown[] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      return (args as { name: string }).name === "info" ? { version: "0.1.0", mode: "production" } : sale;
    });
    expect(transport()).toBe("tauri");
    await expect(api.info({})).resolves.toEqual({ version: "0.1.0", mode: "production" });
    await expect(api.sale(saleRequest)).resolves.toEqual(sale);
    expect(calls).toEqual([
      ["rpc", { name: "info", request: {} }],
      ["rpc", { name: "sale", request: saleRequest }],
    ]);
  });

  it("rejects with the ApiError the command returned", async () => {
    const error = {
      code: "terminal_error",
      message: "link down",
      details: "ECONNREFUSED",
      device_code: "terminal.transport.io",
      operation: null,
    };
    mockIPC(() => Promise.reject(error));
    const failure = await failureOf(api.sale(saleRequest));
    expect(failure.error).toEqual(error);
    expect(failure.uncertain).toBe(false);
  });

  it("wraps a plain string rejection as internal", async () => {
    mockIPC(() => Promise.reject("command rpc not found"));
    const failure = await failureOf(api.sale(saleRequest));
    expect(failure.error).toEqual({
      code: "internal",
      message: "command rpc not found",
      details: null,
      device_code: null,
      operation: null,
    });
  });

  it("invokes ui_ready with the summary", async () => {
    const calls: unknown[] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      return null;
    });
    await uiReady("mode=demo version=0.1.0 | Kasa Демо-режим");
    expect(calls).toEqual([["ui_ready", { summary: "mode=demo version=0.1.0 | Kasa Демо-режим" }]]);
  });

  it("listens to kasa-event", async () => {
    mockIPC(() => undefined, { shouldMockEvents: true });
    const got: KasaEvent[] = [];
    const off = onEvent((e) => got.push(e));
    await vi.waitFor(() => expect(get(eventsOpen)).toBe(true));
    await emit("kasa-event", { type: "progress", operation: 3, status: "authorising" });
    await vi.waitFor(() => expect(got).toEqual([{ type: "progress", operation: 3, status: "authorising" }]));
    off();
    expect(get(eventsOpen)).toBe(false);
  });
});
