import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { KasaEvent } from "./bindings/KasaEvent";
import type { OperationView } from "./bindings/OperationView";
import { ApiFailure, internalError } from "./lib/api";
import { PENDING_KEY } from "./lib/cashier.svelte";
import { dictionaries, setLocale, translate, translatePlural } from "./lib/i18n";
import { cardPayment, operation } from "./test-fixtures";
import App from "./App.svelte";

const h = vi.hoisted(() => {
  const fn = () => vi.fn();
  return {
    listeners: new Set<(e: unknown) => void>(),
    uiReady: vi.fn(),
    api: {
      info: fn(),
      sale: fn(),
      add_payment: fn(),
      cancel: fn(),
      print_again: fn(),
      retry_lookup: fn(),
      resolve: fn(),
      operation: fn(),
      by_key: fn(),
      current: fn(),
      unresolved: fn(),
      receipt_tape: fn(),
      whoami: fn(),
      set_language: fn(),
      logout: fn(),
      login_options: fn(),
      login: fn(),
      quick_items: fn(),
    },
  };
});

vi.mock("./lib/api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./lib/api")>();
  return {
    ...real,
    api: h.api,
    uiReady: h.uiReady,
    onEvent: (cb: (e: unknown) => void) => {
      h.listeners.add(cb);
      return () => h.listeners.delete(cb);
    },
  };
});

const uk = dictionaries.uk;
const ukText = (key: string, params?: Record<string, string | number>) => translate("uk", key, params);

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

const amountInput = () => document.getElementById("amount") as HTMLInputElement;
const payButton = () => document.getElementById("pay-card") as HTMLButtonElement;
const byId = (id: string) => document.getElementById(id);
const testId = (root: Element, id: string) => root.querySelector(`[data-testid="${id}"]`)?.textContent?.trim();

async function typeAndSubmit(text: string) {
  await fireEvent.input(amountInput(), { target: { value: text } });
  await fireEvent.submit(amountInput().form!);
}

async function shown(id: string): Promise<HTMLElement> {
  return waitFor(() => {
    const el = byId(id);
    expect(el).not.toBeNull();
    return el!;
  });
}

/** The key and request of the n-th call of a mocked command. */
function sent(mock: ReturnType<typeof vi.fn>, n = 0): Record<string, unknown> {
  return mock.mock.calls[n][0] as Record<string, unknown>;
}

const CASHIER_SESSION = {
  user: { id: 1, name: "Касир (навчання)", role: "cashier", operator: 1, language: "uk", active: true, training: true, locked_until: null },
  refund_approval_above: 50000,
};

/** Renders the app logged in as the cashier and waits for the cashier screen. */
async function renderApp() {
  const r = render(App);
  await shown("amount");
  return r;
}

const networkDown = () =>
  new ApiFailure(internalError("network error", "TypeError: Failed to fetch"), true);

beforeEach(() => {
  h.listeners.clear();
  for (const m of Object.values(h.api)) m.mockReset();
  h.api.info.mockResolvedValue({ version: "0.1.0", mode: "demo" });
  h.api.current.mockResolvedValue({ operation: null });
  h.api.whoami.mockResolvedValue({ session: CASHIER_SESSION });
  h.api.set_language.mockResolvedValue({ session: CASHIER_SESSION });
  h.api.login_options.mockResolvedValue({ first_run: false, users: [], training: [] });
  h.api.quick_items.mockResolvedValue({ items: [] });
  h.api.by_key.mockResolvedValue({ operation: null });
  h.api.unresolved.mockResolvedValue({ operations: [] });
  h.api.receipt_tape.mockResolvedValue({ available: true, documents: ["ФІСКАЛЬНИЙ ЧЕК\nRRN 412345678901"] });
  h.uiReady.mockReset().mockResolvedValue(undefined);
  sessionStorage.clear();
  setLocale("uk");
});

describe("login", () => {
  const OPTIONS = {
    first_run: false,
    users: [
      { id: 1, name: "Касир (навчання)", role: "cashier" },
      { id: 2, name: "Менеджер (навчання)", role: "manager" },
    ],
    training: [
      { user: 1, name: "Касир (навчання)", role: "cashier", pin: "1111" },
      { user: 2, name: "Менеджер (навчання)", role: "manager", pin: "2222" },
    ],
  };

  it("nobody logged in: the login screen with demo mode's training PINs, then the cashier screen", async () => {
    h.api.whoami.mockResolvedValue({ session: null });
    h.api.login_options.mockResolvedValue(OPTIONS);
    h.api.login.mockResolvedValue(CASHIER_SESSION);
    render(App);
    const form = await shown("login-form");
    expect(byId("amount")).toBeNull();
    expect(byId("training-pins")?.textContent).toContain("1111");
    // The number pad types the PIN.
    for (const d of ["1", "1", "1", "1"]) await fireEvent.click(form.querySelector(`[data-key="${d}"]`)!);
    expect((byId("pin") as HTMLInputElement).value).toBe("1111");
    await fireEvent.submit(form);
    expect(h.api.login).toHaveBeenCalledWith({ user: 1, pin: "1111" });
    await shown("amount");
    expect(byId("user")?.textContent).toContain("Касир (навчання)");
    expect(h.api.current).toHaveBeenCalled();
  });

  it("a wrong PIN says how many tries are left; a lockout says until when", async () => {
    h.api.whoami.mockResolvedValue({ session: null });
    h.api.login_options.mockResolvedValue(OPTIONS);
    h.api.login
      .mockRejectedValueOnce(new ApiFailure({ code: "wrong_pin", message: "wrong PIN", details: "3", device_code: null, operation: null }))
      .mockRejectedValueOnce(
        new ApiFailure({ code: "locked_out", message: "locked", details: "2026-11-25T18:00:00+00:00", device_code: null, operation: null }),
      );
    render(App);
    const form = await shown("login-form");
    await fireEvent.input(byId("pin")!, { target: { value: "9999" } });
    await fireEvent.submit(form);
    expect((await shown("login-error")).textContent).toBe(translatePlural("uk", "login.wrong_pin", 3));
    expect(byId("login-error")?.textContent).toContain("3 спроби");
    expect((byId("pin") as HTMLInputElement).value).toBe("");
    await fireEvent.input(byId("pin")!, { target: { value: "9999" } });
    await fireEvent.submit(form);
    await waitFor(() => expect(byId("login-error")?.getAttribute("data-code")).toBe("locked_out"));
    expect(byId("amount")).toBeNull();
  });

  it("a session that ended on the server brings the login back", async () => {
    h.api.login_options.mockResolvedValue(OPTIONS);
    h.api.sale.mockRejectedValue(
      new ApiFailure({ code: "login_required", message: "log in first", details: null, device_code: null, operation: null }),
    );
    await renderApp();
    await typeAndSubmit("12,50");
    await shown("login-form");
    expect(byId("amount")).toBeNull();
  });
});

describe("cashier screen", () => {
  it("shows the header and tells the shell it is ready with the mode and version info gave", async () => {
    await renderApp();
    expect(screen.getByText("Kasa")).toBeTruthy();
    expect(screen.getByLabelText(uk["amount.label"])).toBe(amountInput());
    expect(amountInput().getAttribute("inputmode")).toBe("decimal");
    expect(payButton().textContent).toContain(uk["pay.card"]);
    expect(await screen.findByText(uk["header.mode.demo"])).toBeTruthy();
    await waitFor(() => expect(h.uiReady).toHaveBeenCalledTimes(1));
    const summary = h.uiReady.mock.calls[0][0] as string;
    expect(summary).toMatch(/^mode=demo version=0\.1\.0 \| /);
    expect(summary).toContain(uk["pay.card"]);
    expect(summary).toContain(ukText("header.version", { version: "0.1.0" }));
    expect(h.api.info).toHaveBeenCalledWith({});
  });

  it("reports a failed info call to the shell instead of a mode, and says so on screen", async () => {
    h.api.info.mockRejectedValue(new ApiFailure(internalError("boom")));
    vi.spyOn(console, "error").mockImplementation(() => {});
    await renderApp();
    await waitFor(() => expect(h.uiReady).toHaveBeenCalledTimes(1));
    expect(h.uiReady.mock.calls[0][0]).toMatch(/^info=failed code=internal \| /);
    expect(h.uiReady.mock.calls[0][0]).not.toContain("mode=");
    expect((await shown("info-error")).textContent).toContain(uk["error.internal"]);
    expect(byId("mode-badge")).toBeNull();
  });

  it("refuses a non-number without calling the backend", async () => {
    await renderApp();
    await typeAndSubmit("abc");
    expect(byId("amount-error")?.textContent?.trim()).toBe(uk["validation.not_a_number"]);
    expect(amountInput().getAttribute("aria-invalid")).toBe("true");
    await fireEvent.click(byId("pay-cash")!);
    expect(h.api.sale).not.toHaveBeenCalled();
  });

  it.each([
    ["", "validation.empty"],
    ["-5", "validation.not_positive"],
    ["1,234", "validation.too_many_decimals"],
  ])("refuses %j with %s", async (text, key) => {
    await renderApp();
    await typeAndSubmit(text);
    expect(byId("amount-error")?.textContent?.trim()).toBe(uk[key]);
    expect(h.api.sale).not.toHaveBeenCalled();
  });

  it("names the limit when the amount is too large", async () => {
    await renderApp();
    await typeAndSubmit("10000000.01");
    expect(byId("amount-error")?.textContent).toContain("10\u00a0000\u00a0000,00");
  });

  it("pays by card: a keyed sale in kopiykas, live progress, then the result", async () => {
    const pending = deferred<OperationView>();
    h.api.sale.mockReturnValue(pending.promise);
    await renderApp();
    await typeAndSubmit("12,5");
    expect(h.api.sale).toHaveBeenCalledTimes(1);
    const request = sent(h.api.sale);
    expect(request).toEqual({
      key: expect.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/),
      items: [],
      amount: 1250,
      payments: [{ method: "card", amount: 1250 }],
    });
    expect(sessionStorage.getItem(PENDING_KEY)).toBe(request.key);

    const progress = await shown("progress");
    expect(progress.getAttribute("aria-busy")).toBe("true");
    expect(byId("operation")?.getAttribute("aria-busy")).toBe("true");
    expect(payButton().disabled).toBe(true);
    expect(progress.textContent).toContain(uk["status.waiting"]);
    expect(progress.textContent).toContain("12,50 грн");

    // The first event with our key names the operation; events of other operations are ignored.
    const key = request.key as string;
    emit({ type: "operation", operation: operation({ id: 12, key, state: "running", step: "charge", payments: [cardPayment({ state: "pending", approved: 0, card: null })], documents: [] }) });
    emit({ type: "progress", operation: 12, status: "enter_pin" });
    emit({ type: "progress", operation: 99, status: "remove_card" });
    emit({ type: "operation", operation: operation({ id: 99, key: "someone-else", state: "running" }) });
    await waitFor(() => expect(byId("progress")?.textContent).toContain(uk["status.enter_pin"]));
    expect(byId("progress")?.dataset.status).toBe("enter_pin");
    expect(testId(byId("progress")!, "operation-id")).toBe(ukText("progress.operation", { id: 12 }));

    // Pressing Pay again while paying does nothing.
    await fireEvent.submit(amountInput().form!);
    expect(h.api.sale).toHaveBeenCalledTimes(1);

    pending.resolve(operation({ id: 12, key }));
    const result = await shown("result");
    expect(byId("progress")).toBeNull();
    expect(payButton().disabled).toBe(false);
    expect(byId("operation")?.getAttribute("aria-busy")).toBe("false");
    expect(result.dataset.state).toBe("done");
    expect(testId(result, "state")).toBe(uk["state.done"]);
    expect(testId(result, "amount")).toBe("12,50 грн");
    expect(testId(result, "rrn")).toBe("412345678901");
    expect(testId(result, "auth-code")).toBe("123456");
    expect(testId(result, "masked-pan")).toBe("411111******1111");
    expect(testId(result, "fiscal-number")).toBe("345");
    expect(testId(result, "money")).toContain(ukText("money.card_charged", { amount: "12,50" }));
    expect(testId(result, "money")).toContain(ukText("money.receipt_printed", { number: 345 }));
    expect(sessionStorage.getItem(PENDING_KEY)).toBeNull();
    // Ready for the next sale, with the focus on the amount.
    await waitFor(() => expect(amountInput().value).toBe(""));
    await waitFor(() => expect(document.activeElement).toBe(amountInput()));

    // A late event from before the answer changes nothing.
    emit({ type: "operation", operation: { ...operation({ id: 12, key, state: "running", step: "close" }), updated_at: "2026-11-22T09:00:00Z" } });
    await Promise.resolve();
    expect(byId("result")?.dataset.state).toBe("done");

    // The virtual tape shows the receipt.
    await waitFor(() => expect(byId("virtual-tape")?.textContent).toContain("412345678901"));
    expect(h.api.receipt_tape).toHaveBeenCalledWith({ last: 1 });
  });

  it("pays in cash: the amount rounded to 10 kopiykas as the register rounds it, and says what was taken", async () => {
    h.api.sale.mockImplementation(async (r: { key: string; amount: number; payments: { amount: number }[] }) => {
      const cash = r.payments[0].amount;
      return operation({
        key: r.key,
        total: r.amount,
        paid: r.amount,
        change: 0,
        payments: [{ ...cardPayment(), method: "cash", card_action: "none", card: null, requested: cash, tendered: cash, approved: cash }],
      });
    });
    await renderApp();
    // 12,47 is 12,50 in cash; 12,43 is 12,40, less than the amount and no change.
    await fireEvent.input(amountInput(), { target: { value: "12,47" } });
    expect(byId("cash-hint")?.textContent?.trim()).toBe(ukText("pay.cash.hint", { amount: "12,50" }));
    await fireEvent.input(amountInput(), { target: { value: "12,43" } });
    expect(byId("cash-hint")?.textContent?.trim()).toBe(ukText("pay.cash.hint", { amount: "12,40" }));
    await fireEvent.input(amountInput(), { target: { value: "12,40" } });
    expect(byId("cash-hint")).toBeNull();
    await fireEvent.input(amountInput(), { target: { value: "12,43" } });
    await fireEvent.click(byId("pay-cash")!);
    expect(sent(h.api.sale)).toMatchObject({ amount: 1243, payments: [{ method: "cash", amount: 1240 }] });
    const result = await shown("result");
    expect(testId(result, "money")).toContain(ukText("money.cash_taken", { amount: "12,40", change: "0,00" }));
    expect(testId(result, "rrn")).toBeUndefined();
  });

  it("an amount under 0,05 rounds to nothing in cash: refused, to be taken by card", async () => {
    await renderApp();
    await fireEvent.input(amountInput(), { target: { value: "0,03" } });
    expect(byId("cash-hint")).toBeNull();
    await fireEvent.click(byId("pay-cash")!);
    expect(byId("amount-error")?.textContent?.trim()).toBe(uk["validation.cash_too_small"]);
    expect(h.api.sale).not.toHaveBeenCalled();
  });

  it("never shows an older view of the operation over a newer one", async () => {
    const newer = operation({ state: "needs_attention", documents: [], problem: { code: "fiscal.paper_out", message: "", actions: ["print_again"] } });
    h.api.current.mockResolvedValue({ operation: newer });
    await renderApp();
    await shown("result");
    emit({ type: "operation", operation: { ...newer, state: "running", updated_at: "2026-11-22T09:00:00Z" } });
    await Promise.resolve();
    expect(byId("result")?.dataset.state).toBe("needs_attention");
  });

  it("a new sale gets a new key", async () => {
    h.api.sale.mockImplementation(async (r: { key: string }) => operation({ key: r.key }));
    await renderApp();
    await typeAndSubmit("12.50");
    await shown("result");
    await typeAndSubmit("12.50");
    await waitFor(() => expect(h.api.sale).toHaveBeenCalledTimes(2));
    expect(sent(h.api.sale, 1).key).not.toBe(sent(h.api.sale, 0).key);
  });

  it("after a lost connection, pressing Pay again sends the same key; another amount gets a new one", async () => {
    h.api.sale.mockRejectedValue(networkDown());
    h.api.by_key.mockRejectedValue(networkDown());
    await renderApp();
    await typeAndSubmit("12.50");
    const error = await shown("error");
    expect(error.dataset.uncertain).toBe("true");
    expect(error.textContent).toContain(uk["error.uncertain"]);
    expect(testId(error, "error-money")).toBe(uk["error.money.retry_same"]);
    const first = sent(h.api.sale).key;
    expect(h.api.by_key).toHaveBeenCalledWith({ key: first });

    await typeAndSubmit("12.50");
    await waitFor(() => expect(h.api.sale).toHaveBeenCalledTimes(2));
    expect(sent(h.api.sale, 1).key).toBe(first);

    await typeAndSubmit("13.00");
    await waitFor(() => expect(h.api.sale).toHaveBeenCalledTimes(3));
    expect(sent(h.api.sale, 2).key).not.toBe(first);
  });

  it("after a lost connection, shows what became of the sale once Kasa answers by its key", async () => {
    h.api.sale.mockRejectedValue(networkDown());
    h.api.by_key.mockImplementation(async ({ key }: { key: string }) => ({ operation: operation({ key }) }));
    await renderApp();
    await typeAndSubmit("12.50");
    const result = await shown("result");
    expect(result.dataset.state).toBe("done");
    expect(byId("error")).toBeNull();
  });

  it("after a definite error, a new press gets a new key", async () => {
    h.api.sale.mockRejectedValue(new ApiFailure({ code: "busy", message: "another operation is in progress", details: null, device_code: null, operation: null }));
    await renderApp();
    await typeAndSubmit("12.50");
    const error = await shown("error");
    expect(error.dataset.code).toBe("busy");
    expect(error.textContent).toContain(uk["error.busy"]);
    expect(error.textContent).toContain("another operation is in progress");
    expect(testId(error, "error-money")).toBe(uk["error.money.not_charged"]);
    expect(payButton().disabled).toBe(false);
    await typeAndSubmit("12.50");
    await waitFor(() => expect(h.api.sale).toHaveBeenCalledTimes(2));
    expect(sent(h.api.sale, 1).key).not.toBe(sent(h.api.sale, 0).key);
  });

  it("a decline is translated, says the card was not charged, and keeps the amount", async () => {
    h.api.sale.mockImplementation(async (r: { key: string }) =>
      operation({
        key: r.key,
        state: "declined",
        paid: 0,
        remaining: 700,
        total: 700,
        payments: [cardPayment({ state: "declined", requested: 700, approved: 0, card: null, decline: { code: "51", message: "Insufficient funds" } })],
        documents: [],
        problem: { code: "51", message: "Insufficient funds", actions: [] },
      }),
    );
    await renderApp();
    await typeAndSubmit("7");
    const result = await shown("result");
    expect(result.dataset.state).toBe("declined");
    expect(testId(result, "decline")).toContain(uk["decline.host.51"]);
    expect(testId(result, "money")).toBe(uk["money.not_charged"]);
    expect(testId(result, "rrn")).toBeUndefined();
    expect(amountInput().value).toBe("7");
    expect(byId("new-sale")).not.toBeNull();
  });

  it("a partial approval shows what was approved and what is left, and pays the rest in cash with a new key", async () => {
    const partial = (key: string) =>
      operation({
        key,
        state: "awaiting_payment",
        total: 1243,
        paid: 1000,
        remaining: 243,
        cash_due: 240,
        payments: [cardPayment({ requested: 1243, approved: 1000, partial: true })],
        documents: [],
        problem: { code: "payment.remaining", message: "247 kopiykas are left to pay", actions: ["cancel"] },
      });
    h.api.sale.mockImplementation(async (r: { key: string }) => partial(r.key));
    h.api.add_payment.mockImplementation(async (r: { key: string }) =>
      operation({ key: "sale-key", total: 1243, paid: 1243, payments: [cardPayment({ approved: 1000 })] }),
    );
    await renderApp();
    await typeAndSubmit("12.43");
    const result = await shown("result");
    expect(result.dataset.state).toBe("awaiting_payment");
    expect(testId(result, "state")).toBe(uk["state.awaiting_payment"]);
    expect(testId(result, "state")).not.toBe(uk["state.done"]);
    expect(testId(result, "paid")).toBe("10,00 грн");
    // The exact rest (as a card pays it), and the cash button asks what the view says it costs in cash.
    expect(testId(result, "remaining")).toBe("2,43 грн");
    expect(testId(result, "money")).toBe(ukText("money.partial", { paid: "10,00", total: "12,43", remaining: "2,43" }));
    expect(byId("new-sale")).toBeNull();
    expect(byId("action-cancel")?.textContent).toContain("10,00");
    expect(byId("rest-card")?.textContent).toContain("2,43");
    expect(byId("rest-cash")?.textContent).toContain("2,40");

    await fireEvent.click(byId("rest-cash")!);
    await waitFor(() => expect(h.api.add_payment).toHaveBeenCalledTimes(1));
    const request = sent(h.api.add_payment);
    expect(request).toEqual({ key: expect.any(String), operation: 12, payment: { method: "cash", amount: 240 } });
    expect(request.key).not.toBe(sent(h.api.sale).key);
    await waitFor(() => expect(byId("result")?.dataset.state).toBe("done"));
  });

  it("a rest that rounds to nothing in cash is offered by card only", async () => {
    h.api.sale.mockImplementation(async (r: { key: string }) =>
      operation({
        key: r.key,
        state: "awaiting_payment",
        total: 7,
        paid: 4,
        remaining: 3,
        cash_due: 0,
        payments: [cardPayment({ requested: 7, approved: 4, partial: true })],
        documents: [],
        problem: { code: "payment.remaining", message: "", actions: ["cancel"] },
      }),
    );
    await renderApp();
    await typeAndSubmit("0,07");
    await shown("result");
    expect(byId("rest-card")?.textContent).toContain("0,03");
    expect(byId("rest-cash")).toBeNull();
  });

  it("cancels a part-paid sale with a new key and says the money went back", async () => {
    h.api.sale.mockImplementation(async (r: { key: string }) =>
      operation({
        key: r.key,
        state: "awaiting_payment",
        paid: 1000,
        remaining: 250,
        payments: [cardPayment({ approved: 1000, partial: true })],
        documents: [],
        problem: { code: "payment.remaining", message: "", actions: ["cancel"] },
      }),
    );
    h.api.cancel.mockImplementation(async () =>
      operation({ state: "cancelled", paid: 0, payments: [cardPayment({ state: "reversed", approved: 1000 })], documents: [] }),
    );
    await renderApp();
    await typeAndSubmit("12.50");
    await shown("result");
    await fireEvent.click(byId("action-cancel")!);
    await waitFor(() => expect(byId("result")?.dataset.state).toBe("cancelled"));
    expect(sent(h.api.cancel)).toEqual({ key: expect.any(String), operation: 12 });
    expect(sent(h.api.cancel).key).not.toBe(sent(h.api.sale).key);
    expect(testId(byId("result")!, "money")).toBe(ukText("money.returned", { amount: "10,00" }));
  });

  it("needs attention: the problem in the cashier's language, and exactly its actions as buttons", async () => {
    h.api.sale.mockImplementation(async (r: { key: string }) =>
      operation({
        key: r.key,
        state: "needs_attention",
        documents: [],
        problem: { code: "fiscal.paper_out", message: "fiscal register: paper out", actions: ["print_again", "cancel", "resolve"] },
      }),
    );
    const printing = deferred<OperationView>();
    h.api.print_again.mockReturnValue(printing.promise);
    await renderApp();
    await typeAndSubmit("12.50");
    const result = await shown("result");
    expect(result.dataset.state).toBe("needs_attention");
    expect(testId(result, "problem")).toContain(uk["code.fiscal.paper_out"]);
    expect(testId(result, "money")).toBe(ukText("money.charged_no_receipt", { amount: "12,50" }));
    expect(testId(result, "rrn")).toBe("412345678901");
    const buttons = [...result.querySelectorAll("button[id^=action-]")].map((b) => b.id);
    expect(buttons).toEqual(["action-print_again", "action-cancel", "action-resolve"]);
    expect(byId("action-print_again")?.textContent?.trim()).toBe(uk["action.print_again"]);
    expect(byId("action-retry_lookup")).toBeNull();

    await fireEvent.click(byId("action-print_again")!);
    expect(sent(h.api.print_again)).toEqual({ key: expect.any(String), operation: 12 });
    // While it prints again, the panel says the card was charged and the receipt is on its way.
    emit({ type: "operation", operation: operation({ state: "running", step: "receipt", documents: [] }) });
    const progress = await shown("progress");
    expect(testId(progress, "money")).toBe(ukText("money.charged_receipt_pending", { amount: "12,50" }));
    expect(testId(progress, "terminal-status")).toBe(uk["step.receipt"]);
    printing.resolve(operation());
    await waitFor(() => expect(byId("result")?.dataset.state).toBe("done"));
  });

  it("asks the terminal again when it could not tell, and never says charged or not", async () => {
    h.api.sale.mockImplementation(async (r: { key: string }) =>
      operation({
        key: r.key,
        state: "needs_attention",
        payments: [cardPayment({ state: "unknown", approved: 0, card: null })],
        documents: [],
        problem: { code: "terminal.outcome_unknown", message: "", actions: ["retry_lookup", "resolve"] },
      }),
    );
    h.api.retry_lookup.mockImplementation(async () => operation());
    await renderApp();
    await typeAndSubmit("12.50");
    const result = await shown("result");
    expect(testId(result, "money")).toBe(ukText("money.unknown", { amount: "12,50" }));
    expect(testId(result, "problem")).toContain(uk["code.terminal.outcome_unknown"]);
    await fireEvent.click(byId("action-retry_lookup")!);
    expect(sent(h.api.retry_lookup)).toEqual({ key: expect.any(String), operation: 12 });
    await waitFor(() => expect(byId("result")?.dataset.state).toBe("done"));
  });

  it("closes by hand only with a reason", async () => {
    h.api.sale.mockImplementation(async (r: { key: string }) =>
      operation({
        key: r.key,
        state: "needs_attention",
        payments: [cardPayment({ state: "unknown", approved: 0, card: null })],
        documents: [],
        problem: { code: "terminal.outcome_unknown", message: "", actions: ["retry_lookup", "resolve"] },
      }),
    );
    h.api.resolve.mockImplementation(async () =>
      operation({
        state: "cancelled",
        payments: [cardPayment({ state: "cancelled", approved: 0, card: null })],
        documents: [],
        problem: { code: "resolved.by_hand", message: "slip shows a decline", actions: [] },
      }),
    );
    await renderApp();
    await typeAndSubmit("12.50");
    await shown("result");
    await fireEvent.click(byId("action-resolve")!);
    await fireEvent.click(byId("resolve-cancelled")!);
    expect(h.api.resolve).not.toHaveBeenCalled();
    expect(byId("resolve-hint")?.textContent?.trim()).toBe(uk["resolve.too_short"]);
    await fireEvent.input(byId("resolve-reason")!, { target: { value: "slip shows a decline" } });
    await fireEvent.click(byId("resolve-cancelled")!);
    expect(sent(h.api.resolve)).toEqual({ key: expect.any(String), operation: 12, resolution: "cancelled", reason: "slip shows a decline" });
    const result = await waitFor(() => {
      expect(byId("result")?.dataset.state).toBe("cancelled");
      return byId("result")!;
    });
    expect(testId(result, "problem")).toContain(uk["code.resolved.by_hand"]);
    expect(testId(result, "resolve-reason")).toBe("slip shows a decline");
    expect(testId(result, "money")).toBe(uk["money.not_charged"]);
  });

  it("a problem code it does not know: a generic text that names the code", async () => {
    h.api.sale.mockImplementation(async (r: { key: string }) =>
      operation({
        key: r.key,
        state: "needs_attention",
        documents: [],
        problem: { code: "fiscal.something_new", message: "register said 0x99", actions: ["resolve"] },
      }),
    );
    await renderApp();
    await typeAndSubmit("12.50");
    const problem = (await shown("result")).querySelector('[data-testid="problem"]') as HTMLElement;
    expect(problem.dataset.code).toBe("fiscal.something_new");
    expect(problem.textContent).toContain(ukText("code.unknown", { code: "fiscal.something_new" }));
  });

  it("a device error before anything was charged: translated, and the card was not charged", async () => {
    h.api.sale.mockRejectedValue(
      new ApiFailure({
        code: "fiscal_error",
        message: "the devices are not ready",
        details: null,
        device_code: "fiscal.cover_open",
        operation: null,
      }),
    );
    await renderApp();
    await typeAndSubmit("12.50");
    const error = await shown("error");
    expect(error.textContent).toContain(uk["error.fiscal_error"]);
    expect(testId(error, "device-error")).toBe(uk["code.fiscal.cover_open"]);
    expect(testId(error, "error-money")).toBe(uk["error.money.not_charged"]);
  });

  it("an unknown device code in an error: the generic text with the code", async () => {
    h.api.sale.mockRejectedValue(
      new ApiFailure({
        code: "terminal_error",
        message: "terminal reported 1009",
        details: null,
        device_code: "terminal.device.something_new",
        operation: null,
      }),
    );
    await renderApp();
    await typeAndSubmit("12.50");
    const device = await screen.findByTestId("device-error");
    expect(device.textContent).toContain(ukText("code.unknown", { code: "terminal.device.something_new" }));
    expect(byId("error")?.textContent).toContain("terminal reported 1009");
  });

  it("needs attention: a banner that stays, and no new card sale until it is resolved", async () => {
    const stuck = operation({
      id: 9,
      state: "needs_attention",
      documents: [],
      problem: { code: "fiscal.paper_out", message: "", actions: ["print_again", "resolve"] },
    });
    h.api.unresolved.mockResolvedValue({ operations: [stuck] });
    await renderApp();
    const banner = await shown("attention-banner");
    expect(banner.textContent).toContain(ukText("attention.banner", { kind: uk["kind.sale"], id: 9 }));
    await typeAndSubmit("12,50");
    expect(h.api.sale).not.toHaveBeenCalled();
    const result = await shown("result");
    expect(result.dataset.operation).toBe("9");
    expect(byId("action-print_again")).not.toBeNull();
    // Resolved (printed again): the banner goes once the list is empty.
    h.api.unresolved.mockResolvedValue({ operations: [] });
    h.api.print_again.mockResolvedValue(operation({ id: 9, state: "done" }));
    await fireEvent.click(byId("action-print_again")!);
    await waitFor(() => expect(byId("attention-banner")).toBeNull());
  });

  it("a cashier closing by hand types a manager's PIN, sent with the request", async () => {
    h.api.login_options.mockResolvedValue({ first_run: false, users: [{ id: 2, name: "Менеджер", role: "manager" }], training: [] });
    const stuck = operation({
      id: 9,
      state: "needs_attention",
      documents: [],
      problem: { code: "fiscal.paper_out", message: "", actions: ["print_again", "resolve"] },
    });
    h.api.current.mockResolvedValue({ operation: stuck });
    h.api.resolve.mockResolvedValue(operation({ id: 9, state: "done" }));
    await renderApp();
    await fireEvent.click(await shown("action-resolve"));
    await shown("resolve-approval");
    await fireEvent.input(byId("resolve-reason")!, { target: { value: "receipt printed by hand" } });
    await fireEvent.input(byId("resolve-pin")!, { target: { value: "2222" } });
    await fireEvent.click(byId("resolve-done")!);
    await waitFor(() => expect(h.api.resolve).toHaveBeenCalledTimes(1));
    expect(sent(h.api.resolve)).toMatchObject({ operation: 9, resolution: "done", approval: { user: 2, pin: "2222" } });
  });

  it("an older operation blocks the sale: names it, and shows it with its actions", async () => {
    h.api.sale.mockRejectedValue(
      new ApiFailure({
        code: "unresolved",
        message: "operation 5 is unresolved (fiscal.paper_out)",
        details: "operation 5",
        device_code: "fiscal.paper_out",
        operation: 5,
      }),
    );
    h.api.operation.mockResolvedValue(
      operation({ id: 5, state: "needs_attention", documents: [], problem: { code: "fiscal.paper_out", message: "", actions: ["print_again", "resolve"] } }),
    );
    await renderApp();
    await typeAndSubmit("12.50");
    const error = await shown("error");
    expect(error.textContent).toContain(uk["error.unresolved"]);
    expect(error.dataset.operation).toBe("5");
    expect(testId(error, "blocking-operation")).toBe(ukText("error.blocking", { id: 5 }));
    const result = await shown("result");
    expect(result.dataset.operation).toBe("5");
    expect(h.api.operation).toHaveBeenCalledWith({ id: 5 });
    // The named operation is read; the list of unresolved ones is not asked for it
    // (the banner reads that list at login and after each settled operation).
    const saleAt = h.api.sale.mock.invocationCallOrder[0];
    const readAt = h.api.operation.mock.invocationCallOrder[0];
    const listedBetween = h.api.unresolved.mock.invocationCallOrder.filter((n) => n > saleAt && n < readAt);
    expect(listedBetween).toEqual([]);
    expect(byId("action-print_again")).not.toBeNull();
  });

  it("an error that names no blocking operation: shows the oldest unresolved one", async () => {
    h.api.sale.mockRejectedValue(
      new ApiFailure({ code: "unresolved", message: "an operation is unresolved", details: null, device_code: null, operation: null }),
    );
    h.api.unresolved.mockResolvedValue({
      operations: [operation({ id: 6, state: "awaiting_payment", cash_due: 250, remaining: 250, documents: [], problem: null })],
    });
    await renderApp();
    await typeAndSubmit("12.50");
    const error = await shown("error");
    expect(testId(error, "blocking-operation")).toBeUndefined();
    expect((await shown("result")).dataset.operation).toBe("6");
  });

  it("after a reload, follows the running operation until it settles", async () => {
    h.api.current.mockResolvedValue({
      operation: operation({ id: 40, state: "running", step: "charge", payments: [cardPayment({ state: "pending", approved: 0, card: null })], documents: [] }),
    });
    await renderApp();
    const progress = await shown("progress");
    expect(payButton().disabled).toBe(true);
    emit({ type: "progress", operation: 40, status: "authorising" });
    await waitFor(() => expect(progress.textContent).toContain(uk["status.authorising"]));
    emit({ type: "operation", operation: operation({ id: 40 }) });
    const result = await shown("result");
    expect(result.dataset.operation).toBe("40");
    expect(result.dataset.state).toBe("done");
    expect(payButton().disabled).toBe(false);
  });

  it("after a reload with nothing running, shows what became of a sale sent but not answered", async () => {
    sessionStorage.setItem(PENDING_KEY, "lost-key");
    h.api.by_key.mockResolvedValue({ operation: operation({ id: 41, key: "lost-key" }) });
    await renderApp();
    const result = await shown("result");
    expect(h.api.by_key).toHaveBeenCalledWith({ key: "lost-key" });
    expect(result.dataset.operation).toBe("41");
    expect(sessionStorage.getItem(PENDING_KEY)).toBeNull();
  });

  it("cancels a card payment waiting on the terminal", async () => {
    const pending = deferred<OperationView>();
    h.api.sale.mockReturnValue(pending.promise);
    h.api.cancel.mockImplementation(async () => {
      const cancelled = operation({ state: "cancelled", payments: [cardPayment({ state: "cancelled", approved: 0, card: null })], documents: [] });
      pending.resolve(cancelled);
      return cancelled;
    });
    await renderApp();
    await typeAndSubmit("12.50");
    const key = sent(h.api.sale).key as string;
    emit({ type: "operation", operation: operation({ key, state: "running", step: "charge", payments: [cardPayment({ state: "pending", approved: 0, card: null })], documents: [] }) });
    await fireEvent.click(await shown("cancel-terminal"));
    expect(sent(h.api.cancel)).toEqual({ key: expect.any(String), operation: 12 });
    const result = await shown("result");
    expect(result.dataset.state).toBe("cancelled");
    expect(testId(result, "money")).toBe(uk["money.not_charged"]);
  });

  it("switches language from the header", async () => {
    await renderApp();
    await fireEvent.click(document.querySelector('button[data-locale="en"]')!);
    expect(payButton().textContent).toContain(dictionaries.en["pay.card"]);
    expect(screen.getByLabelText(dictionaries.en["amount.label"])).toBe(amountInput());
    expect(localStorage.getItem("kasa.locale")).toBe("en");
  });

  it("Escape clears the amount and a finished result", async () => {
    h.api.sale.mockImplementation(async (r: { key: string }) =>
      operation({ key: r.key, state: "cancelled", payments: [cardPayment({ state: "cancelled", approved: 0, card: null })], documents: [] }),
    );
    await renderApp();
    await typeAndSubmit("3");
    await shown("result");
    await fireEvent.keyDown(amountInput(), { key: "Escape" });
    expect(byId("result")).toBeNull();
    expect(amountInput().value).toBe("");
  });
});
