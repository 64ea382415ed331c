// The cashier's side of the operation engine: start a sale, follow the
// operation it makes (its events, its result), and act on it (pay the rest,
// cancel, print again, ask the terminal again, close by hand). Each
// state-changing request carries an idempotency key: pressing the same
// button again after a lost connection sends the same key, so Kasa answers
// with what the first press did instead of doing it twice; any definite
// answer ends the attempt, and the next press gets a new key.
//
// No markup here: App.svelte and the panels render this state.
import type { Approval } from "../bindings/Approval";
import type { ItemRequest } from "../bindings/ItemRequest";
import type { OperationView } from "../bindings/OperationView";
import type { Resolution } from "../bindings/Resolution";
import type { TerminalStatus } from "../bindings/TerminalStatus";
import { ApiFailure, api, internalError, type ApiError, type KasaEvent } from "./api";
import { isFinal, isSettled } from "./enums";
import { cashToTake, newKey } from "./operations";

export type PayMethod = "card" | "cash";

/** The commands this screen sends that change something. */
export type Command =
  | "sale"
  | "add_payment"
  | "cancel"
  | "print_again"
  | "retry_lookup"
  | "resolve"
  | "customer_copy"
  | NewOperation;

/** The commands that start an operation other than a sale. */
export type NewOperation = "refund" | "void" | "cash_in" | "cash_out" | "x_report";

/** The commands that start a new operation (the screen follows it by its key). */
const STARTING: readonly Command[] = ["sale", "refund", "void", "cash_in", "cash_out", "x_report"];

/** The request of each such command, without its key. */
export type NewOperationRequest = {
  refund: { rrn: string; amount: number | null; approval?: Approval };
  void: { invoice: string; approval?: Approval };
  cash_in: { amount: number };
  cash_out: { amount: number };
  x_report: Record<string, never>;
};

/** A request that failed: which command, the backend's error, and whether it may not have reached Kasa. */
export type Failure = { command: Command; error: ApiError; uncertain: boolean };

/** sessionStorage: the key of a request sent but not answered, so a reload can ask what became of it. */
export const PENDING_KEY = "kasa.pendingKey";

function store(key: string | null): void {
  try {
    if (key === null) globalThis.sessionStorage?.removeItem(PENDING_KEY);
    else globalThis.sessionStorage?.setItem(PENDING_KEY, key);
  } catch {
    // storage can be unavailable; the reload check is a convenience
  }
}

function stored(): string | null {
  try {
    return globalThis.sessionStorage?.getItem(PENDING_KEY) ?? null;
  } catch {
    return null;
  }
}

function failureOf(err: unknown): ApiFailure {
  if (err instanceof ApiFailure) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ApiFailure(internalError(message));
}

const time = (iso: string) => {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : t;
};

export class Cashier {
  /** The operation shown: the sale just made, or one picked up after a reload. */
  op = $state<OperationView | null>(null);
  /** What the terminal is doing for it now (from progress events). */
  status = $state<TerminalStatus | null>(null);
  /** The command in flight, if any. */
  pending = $state<Command | null>(null);
  /** The amount of the sale being started (shown before its operation is known). */
  payingMinor = $state(0);
  /** The last request that failed. */
  failure = $state<Failure | null>(null);

  /** The last press that got no definite answer: its request and key. */
  #attempt: { signature: string; key: string } | null = null;
  /** The key of the sale being started: its first event names its operation. */
  #saleKey: string | null = null;
  /** The latest terminal status per operation, for events that come before the operation is known. */
  #progress = new Map<number, TerminalStatus>();

  /** A sale or an action is on its way, or the operation shown is running. */
  get busy(): boolean {
    return this.pending !== null || this.op?.state === "running";
  }

  /** A new operation was asked for and its first view has not come yet. */
  get starting(): boolean {
    return this.op === null && this.pending !== null && STARTING.includes(this.pending);
  }

  /** The operation shown is a card step waiting on the terminal, which can be cancelled there. */
  get cancellable(): boolean {
    return this.op?.state === "running" && this.op.step === "charge" && this.pending !== "cancel";
  }

  /** Takes a backend event. */
  handleEvent(event: KasaEvent): void {
    if (event.type === "progress") {
      if (this.#progress.size > 32) this.#progress.clear();
      this.#progress.set(event.operation, event.status);
      if (this.op?.id === event.operation && this.op.state === "running") this.status = event.status;
      return;
    }
    const view = event.operation;
    if (this.op?.id === view.id) {
      this.#take(view, false);
    } else if (this.#saleKey !== null && view.key === this.#saleKey) {
      this.#take(view, false);
    }
  }

  /**
   * Shows `view` if it is news: never an older view over a newer one, and
   * never "running" again over a settled view unless a request of ours is on
   * its way (a late event after the answer).
   */
  #take(view: OperationView, answer: boolean): void {
    const current = this.op;
    if (current && current.id === view.id) {
      if (time(view.updated_at) < time(current.updated_at)) return;
      if (!answer && this.pending === null && isSettled(current.state) && !isSettled(view.state)) return;
    } else {
      this.status = this.#progress.get(view.id) ?? null;
    }
    this.op = view;
    if (isSettled(view.state)) {
      this.status = null;
      // A sale followed to its end (after a reload) needs no asking about later.
      if (this.pending === null && stored() === view.key) store(null);
    }
  }

  /** The key for a press: the same as the last unanswered press of the same request, else a new one. */
  #keyFor(command: Command, request: unknown): string {
    const signature = JSON.stringify([command, request]);
    if (this.#attempt?.signature !== signature) this.#attempt = { signature, key: newKey() };
    return this.#attempt.key;
  }

  async #send(command: Command, request: unknown, send: (key: string) => Promise<OperationView>): Promise<OperationView | null> {
    const key = this.#keyFor(command, request);
    this.failure = null;
    this.pending = command;
    store(key);
    try {
      const view = await send(key);
      this.#attempt = null;
      store(null);
      this.#take(view, true);
      return view;
    } catch (err) {
      const f = failureOf(err);
      this.failure = { command, error: f.error, uncertain: f.uncertain };
      if (!f.uncertain) {
        // A definite answer: nothing more to learn from this key.
        this.#attempt = null;
        store(null);
        if (f.error.code === "unresolved") await this.#showBlocking(f.error);
      } else {
        // It may have reached Kasa: ask what became of it (the connection may be back).
        await this.#lookUp(key);
      }
      return null;
    } finally {
      this.pending = null;
    }
  }

  /** After an unanswered request: what became of its key, if Kasa can be asked. */
  async #lookUp(key: string): Promise<void> {
    try {
      const { operation } = await api.by_key({ key });
      if (operation) {
        // Now it is known: show the operation itself instead of the doubt.
        this.#take(operation, true);
        this.failure = null;
        this.#attempt = null;
        store(null);
      }
    } catch {
      // still unreachable: the failure stays, and pressing again asks with the same key
    }
  }

  /** An older operation blocks new card payments: show it (the error names it), with what can be done about it. */
  async #showBlocking(error: ApiError): Promise<void> {
    try {
      const blocking =
        error.operation !== null ? await api.operation({ id: error.operation }) : (await api.unresolved({})).operations[0];
      if (blocking && this.op === null) this.#take(blocking, true);
    } catch {
      // the error panel still says what to do
    }
  }

  /** Starts a sale of a free amount (kopiykas) or of items (their total), paid by card or in cash (the amount rounded to 10 kopiykas, as the register rounds it). */
  async pay(minor: number, method: PayMethod, items: ItemRequest[] = []): Promise<OperationView | null> {
    if (this.busy) return null;
    const request = {
      items,
      amount: items.length > 0 ? null : minor,
      payments: [method === "card" ? { method: "card" as const, amount: minor } : { method: "cash" as const, amount: cashToTake(minor) }],
    };
    this.op = null;
    this.status = null;
    this.payingMinor = minor;
    const key = this.#keyFor("sale", request);
    this.#saleKey = key;
    this.#progress.clear();
    const view = await this.#send("sale", request, (k) => api.sale({ key: k, ...request }));
    if (this.failure === null || !this.failure.uncertain) this.#saleKey = null;
    return view;
  }

  /**
   * Starts a sale paid partly by card (`cardMinor`) and the rest in cash
   * (rounded to 10 kopiykas, as the register rounds it).
   */
  async payMixed(minor: number, cardMinor: number, items: ItemRequest[] = []): Promise<OperationView | null> {
    if (this.busy || cardMinor <= 0 || cardMinor >= minor) return null;
    const request = {
      items,
      amount: items.length > 0 ? null : minor,
      payments: [
        { method: "card" as const, amount: cardMinor },
        { method: "cash" as const, amount: cashToTake(minor - cardMinor) },
      ],
    };
    return this.#start("sale", request, (k) => api.sale({ key: k, ...request }), minor);
  }

  /** Starts a refund, a void, a cash in or out, or an X report. */
  async start<K extends NewOperation>(command: K, request: NewOperationRequest[K], minor = 0): Promise<OperationView | null> {
    if (this.busy) return null;
    const send = (key: string) => (api[command] as (r: unknown) => Promise<OperationView>)({ key, ...request });
    return this.#start(command, request, send, minor);
  }

  /** Starts a new operation: the screen follows it by its key's events until the answer comes. */
  async #start(
    command: Command,
    request: unknown,
    send: (key: string) => Promise<OperationView>,
    minor: number,
  ): Promise<OperationView | null> {
    this.op = null;
    this.status = null;
    this.payingMinor = minor;
    const key = this.#keyFor(command, request);
    this.#saleKey = key;
    this.#progress.clear();
    const view = await this.#send(command, request, send);
    if (this.failure === null || !this.failure.uncertain) this.#saleKey = null;
    return view;
  }

  /** Pays what is left of the sale shown: by card (the exact rest) or in cash (what the view says it costs in cash). */
  async payRest(method: PayMethod): Promise<OperationView | null> {
    const op = this.op;
    if (!op || op.state !== "awaiting_payment" || this.pending !== null) return null;
    if (method === "cash" && op.cash_due <= 0) return null;
    const payment =
      method === "card"
        ? { method: "card" as const, amount: op.remaining }
        : { method: "cash" as const, amount: op.cash_due };
    const request = { operation: op.id, payment };
    return this.#send("add_payment", request, (key) => api.add_payment({ key, ...request }));
  }

  /** Cancel, print again, or ask the terminal again, for the operation shown. */
  async act(action: "cancel" | "print_again" | "retry_lookup" | "customer_copy"): Promise<OperationView | null> {
    const op = this.op;
    if (!op) return null;
    // A card step in flight can be cancelled while the sale's own request waits.
    if (this.pending !== null && !(action === "cancel" && this.cancellable)) return null;
    const request = { operation: op.id };
    const send = (key: string) => api[action]({ key, ...request });
    if (action === "cancel" && this.pending !== null && STARTING.includes(this.pending)) {
      // Leave `pending` (and the attempt's key) to the sale; both answers are the same operation.
      try {
        const view = await send(newKey());
        this.#take(view, true);
        return view;
      } catch (err) {
        const f = failureOf(err);
        this.failure = { command: "cancel", error: f.error, uncertain: f.uncertain };
        return null;
      }
    }
    return this.#send(action, request, send);
  }

  /** Closes the operation shown by hand, with a reason that is kept (a manager's command). */
  async resolve(resolution: Resolution, reason: string, approval?: Approval): Promise<OperationView | null> {
    const op = this.op;
    if (!op || this.pending !== null) return null;
    const request = approval ? { operation: op.id, resolution, reason, approval } : { operation: op.id, resolution, reason };
    return this.#send("resolve", request, (key) => api.resolve({ key, ...request }));
  }

  /**
   * After a reload: follow the newest unfinished operation, or else show what
   * became of a request that was sent and never answered.
   */
  async resume(): Promise<void> {
    try {
      const { operation } = await api.current({});
      if (this.op !== null || this.pending !== null) return;
      if (operation) {
        this.#take(operation, true);
        return;
      }
      const key = stored();
      if (key) {
        const { operation: last } = await api.by_key({ key });
        store(null);
        if (last && this.op === null && this.pending === null) this.#take(last, true);
      }
    } catch (err) {
      console.warn("could not ask for the current operation", err);
    }
  }

  /** Reads the running operation again (after the event stream came back, or now and then while it runs). */
  async refresh(): Promise<void> {
    const op = this.op;
    if (!op || op.state !== "running") return;
    try {
      this.#take(await api.operation({ id: op.id }), false);
    } catch (err) {
      console.warn("could not read the operation", err);
    }
  }

  /** Shows `op` (an unresolved operation the banner points at), unless something else is under way. */
  show(op: OperationView): void {
    if (this.pending !== null || this.op?.state === "running") return;
    this.failure = null;
    this.#take(op, true);
  }

  /** Forgets a finished result and the last error (a new sale). Unfinished operations stay shown. */
  clear(): void {
    if (this.op && !isFinal(this.op.state)) return;
    this.op = null;
    this.status = null;
    this.failure = null;
  }
}
