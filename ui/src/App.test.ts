import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { KasaEvent } from "./bindings/KasaEvent";
import type { SaleResult } from "./bindings/SaleResult";
import { ApiFailure } from "./lib/api";
import { dictionaries, setLocale } from "./lib/i18n";
import App from "./App.svelte";

const h = vi.hoisted(() => ({
  listeners: new Set<(e: unknown) => void>(),
  appInfo: vi.fn(),
  payByCard: vi.fn(),
  uiReady: vi.fn(),
}));

vi.mock("./lib/api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./lib/api")>();
  return {
    ...real,
    appInfo: h.appInfo,
    payByCard: h.payByCard,
    uiReady: h.uiReady,
    onEvent: (cb: (e: unknown) => void) => {
      h.listeners.add(cb);
      return () => h.listeners.delete(cb);
    },
  };
});

const uk = dictionaries.uk;

function emit(e: KasaEvent) {
  for (const l of h.listeners) l(e);
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const approved: SaleResult = {
  sale_id: 12,
  state: "done",
  amount: 1250,
  card: {
    rrn: "412345678901",
    auth_code: "123456",
    masked_pan: "411111******1111",
    card_scheme: "VISA",
    terminal_id: "T1",
    merchant_id: "M1",
    invoice: "000007",
    amount: 1250,
    batch: "1",
    kind: "purchase",
    status: "approved",
    response_code: "0000",
    date_time: "2026-11-22T10:00:00",
    request_id: "",
  },
  fiscal_number: 345,
  decline: null,
  attention: null,
};

function amountInput() {
  return document.getElementById("amount") as HTMLInputElement;
}

function payButton() {
  return document.getElementById("pay-card") as HTMLButtonElement;
}

async function typeAndSubmit(text: string) {
  await fireEvent.input(amountInput(), { target: { value: text } });
  await fireEvent.submit(amountInput().form!);
}

beforeEach(() => {
  h.listeners.clear();
  h.appInfo.mockReset().mockResolvedValue({ version: "0.1.0", mode: "demo" });
  h.payByCard.mockReset();
  h.uiReady.mockReset().mockResolvedValue(undefined);
  setLocale("uk");
});

describe("cashier screen", () => {
  it("shows the header with the demo badge and tells the shell it is ready", async () => {
    render(App);
    expect(screen.getByText("Kasa")).toBeTruthy();
    expect(screen.getByLabelText(uk["amount.label"])).toBe(amountInput());
    expect(amountInput().getAttribute("inputmode")).toBe("decimal");
    expect(payButton().textContent).toContain(uk["pay.card"]);
    expect(await screen.findByText(uk["header.mode.demo"])).toBeTruthy();
    await waitFor(() => expect(h.uiReady).toHaveBeenCalledTimes(1));
    expect(typeof h.uiReady.mock.calls[0][0]).toBe("string");
  });

  it("refuses a non-number without calling the backend", async () => {
    render(App);
    await typeAndSubmit("abc");
    const error = document.getElementById("amount-error");
    expect(error?.textContent?.trim()).toBe(uk["validation.not_a_number"]);
    expect(amountInput().getAttribute("aria-invalid")).toBe("true");
    expect(h.payByCard).not.toHaveBeenCalled();
  });

  it.each([
    ["", "validation.empty"],
    ["-5", "validation.not_positive"],
    ["1,234", "validation.too_many_decimals"],
  ])("refuses %j with %s", async (text, key) => {
    render(App);
    await typeAndSubmit(text);
    expect(document.getElementById("amount-error")?.textContent?.trim()).toBe(uk[key]);
    expect(h.payByCard).not.toHaveBeenCalled();
  });

  it("names the limit when the amount is too large", async () => {
    render(App);
    await typeAndSubmit("10000000.01");
    expect(document.getElementById("amount-error")?.textContent).toContain("10\u00a0000\u00a0000,00");
  });

  it("pays, shows live terminal progress, then the result", async () => {
    const pending = deferred<SaleResult>();
    h.payByCard.mockReturnValue(pending.promise);
    render(App);
    await typeAndSubmit("12,5");
    expect(h.payByCard).toHaveBeenCalledWith("12.50");

    const progress = await waitFor(() => {
      const el = document.getElementById("progress");
      expect(el).not.toBeNull();
      return el!;
    });
    expect(payButton().disabled).toBe(true);
    expect(progress.textContent).toContain(uk["status.waiting"]);

    emit({ type: "state", sale_id: 12, state: "terminal_sent" });
    emit({ type: "progress", sale_id: 12, status: "enter_pin" });
    emit({ type: "progress", sale_id: 99, status: "remove_card" }); // another sale: ignored
    await waitFor(() => expect(progress.textContent).toContain(uk["status.enter_pin"]));
    expect(progress.dataset.status).toBe("enter_pin");

    // Pressing Pay again while paying does nothing.
    await fireEvent.submit(amountInput().form!);
    expect(h.payByCard).toHaveBeenCalledTimes(1);

    pending.resolve(approved);
    const result = await waitFor(() => {
      const el = document.getElementById("result");
      expect(el).not.toBeNull();
      return el!;
    });
    expect(document.getElementById("progress")).toBeNull();
    expect(payButton().disabled).toBe(false);
    expect(result.dataset.state).toBe("done");
    expect(result.textContent).toContain(uk["state.done"]);
    const byId = (id: string) => result.querySelector(`[data-testid="${id}"]`)?.textContent?.trim();
    expect(byId("amount")).toBe("12,50 грн");
    expect(byId("rrn")).toBe("412345678901");
    expect(byId("auth-code")).toBe("123456");
    expect(byId("masked-pan")).toBe("411111******1111");
    expect(byId("fiscal-number")).toBe("345");
    // Ready for the next sale.
    expect(amountInput().value).toBe("");
  });

  it("shows a decline with its code and keeps the amount", async () => {
    h.payByCard.mockResolvedValue({
      ...approved,
      state: "declined",
      card: null,
      fiscal_number: null,
      decline: { code: "51", message: "Insufficient funds" },
    });
    render(App);
    await typeAndSubmit("7");
    const decline = await screen.findByTestId("decline");
    expect(decline.textContent).toContain("51");
    expect(decline.textContent).toContain("Insufficient funds");
    expect(document.getElementById("result")?.dataset.state).toBe("declined");
    expect(screen.queryByTestId("rrn")).toBeNull();
    expect(amountInput().value).toBe("7");
  });

  it("warns when the sale needs attention", async () => {
    h.payByCard.mockResolvedValue({ ...approved, state: "needs_attention", fiscal_number: null });
    render(App);
    await typeAndSubmit("12.50");
    const warning = await screen.findByTestId("attention");
    expect(warning.textContent).toContain(uk["result.needs_attention"]);
    expect(screen.getByTestId("rrn").textContent).toBe("412345678901");
  });

  it("says in the cashier's language which device failed and how", async () => {
    h.payByCard.mockResolvedValue({
      ...approved,
      state: "needs_attention",
      fiscal_number: null,
      attention: { device_code: "fiscal.paper_out", message: "fiscal register: paper out" },
    });
    render(App);
    await typeAndSubmit("12.50");
    const reason = await screen.findByTestId("attention-reason");
    expect(reason.textContent).toContain(uk["device.fiscal.paper_out"]);
    expect(reason.dataset.deviceCode).toBe("fiscal.paper_out");
  });

  it("falls back to the device's own words for a code it has no text for", async () => {
    h.payByCard.mockRejectedValue(
      new ApiFailure({
        code: "terminal_error",
        message: "terminal reported 1007: something new",
        details: null,
        device_code: "terminal.device.something_new",
      }),
    );
    render(App);
    await typeAndSubmit("12.50");
    const device = await screen.findByTestId("device-error");
    expect(device.textContent).toContain("terminal reported 1007: something new");
  });

  it("translates a server error by its code and shows the message as detail", async () => {
    h.payByCard.mockRejectedValue(
      new ApiFailure({
        code: "busy",
        message: "another sale is in progress",
        details: null,
        device_code: null,
      }),
    );
    render(App);
    await typeAndSubmit("12.50");
    const error = await waitFor(() => {
      const el = document.getElementById("error");
      expect(el).not.toBeNull();
      return el!;
    });
    expect(error.dataset.code).toBe("busy");
    expect(error.textContent).toContain(uk["error.busy"]);
    expect(error.textContent).toContain("another sale is in progress");
    expect(payButton().disabled).toBe(false);
  });

  it("switches language from the header", async () => {
    render(App);
    await fireEvent.click(document.querySelector('button[data-locale="en"]')!);
    expect(payButton().textContent).toContain(dictionaries.en["pay.card"]);
    expect(screen.getByLabelText(dictionaries.en["amount.label"])).toBe(amountInput());
    expect(localStorage.getItem("kasa.locale")).toBe("en");
  });

  it("Escape clears the amount and the last result", async () => {
    h.payByCard.mockResolvedValue({ ...approved, state: "cancelled", card: null, fiscal_number: null });
    render(App);
    await typeAndSubmit("3");
    await screen.findByText(uk["result.cancelled"]);
    await fireEvent.keyDown(amountInput(), { key: "Escape" });
    expect(document.getElementById("result")).toBeNull();
    expect(amountInput().value).toBe("");
  });
});
