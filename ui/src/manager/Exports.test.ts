import { fireEvent, render } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LOCALES, setLocale, DEFAULT_LOCALE, type Locale } from "../lib/i18n";
import Exports from "./Exports.svelte";

const h = vi.hoisted(() => ({
  api: { export_start: vi.fn(), export_status: vi.fn(), export_cancel: vi.fn() },
}));

vi.mock("../lib/api", async (importOriginal) => {
  const real = await importOriginal<typeof import("../lib/api")>();
  return { ...real, api: h.api };
});

const JOB = {
  id: "0123456789abcdef0123456789abcdef",
  kind: "day_pdf",
  state: "done",
  rows_done: 7,
  rows_total: 7,
  file_name: "kasa-day-2026-11-25.pdf",
  content_type: "application/pdf",
  size: 4096,
  error: null,
  started_at: "2026-11-25T12:30:00Z",
  finished_at: "2026-11-25T12:30:01Z",
};

const props = { day: "2026-11-25", batches: [{ merchant: 1, batch: "17" }], reconciled: true };

describe("Exports", () => {
  beforeEach(() => {
    h.api.export_start.mockReset().mockResolvedValue(JOB);
  });
  afterEach(() => setLocale(DEFAULT_LOCALE));

  it.each(LOCALES.map((l) => [l]))("asks for every export in the UI's language (%s)", async (lang: Locale) => {
    setLocale(lang);
    const { container } = render(Exports, { props });
    const buttons = ["#export-day", '[data-export-batch="1-17"]', "#export-recon", "#export-csv"];
    for (const b of buttons) await fireEvent.click(container.querySelector(b)!);
    expect(h.api.export_start).toHaveBeenCalledTimes(buttons.length);
    const sent = h.api.export_start.mock.calls.map((c) => c[0] as Record<string, unknown>);
    expect(sent.map((r) => r.kind)).toEqual(["day_pdf", "batch_pdf", "reconciliation_pdf", "transactions_csv"]);
    for (const r of sent) expect(r.lang).toBe(lang);
  });

  it("follows a change of language", async () => {
    setLocale("en");
    const { container } = render(Exports, { props });
    await fireEvent.click(container.querySelector("#export-day")!);
    setLocale("ru");
    await fireEvent.click(container.querySelector("#export-day")!);
    expect(h.api.export_start.mock.calls.map((c) => (c[0] as { lang: string }).lang)).toEqual(["en", "ru"]);
  });
});
