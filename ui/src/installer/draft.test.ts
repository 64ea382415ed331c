import { describe, expect, it } from "vitest";
import type { PortReport } from "../bindings/PortReport";
import { errorsOf, fromScan, getPath, setPath } from "./draft";

describe("the settings draft", () => {
  it("reads and writes nested fields, and keeps what it does not know", () => {
    const doc: Record<string, unknown> = { fiscal: { endpoint: { kind: "serial", path: "/dev/ttyUSB0", baud: 115200 }, unknown: 7 } };
    expect(getPath(doc, "fiscal.endpoint.baud")).toBe(115200);
    expect(getPath(doc, "terminal.protocol")).toBeUndefined();
    setPath(doc, "fiscal.endpoint.baud", 9600);
    setPath(doc, "terminal.protocol", "privatbank");
    expect(doc).toEqual({
      fiscal: { endpoint: { kind: "serial", path: "/dev/ttyUSB0", baud: 9600 }, unknown: 7 },
      terminal: { protocol: "privatbank" },
    });
  });

  it("turns a port the scanner found into the device's settings", () => {
    const fiscal: PortReport = {
      path: "/dev/ttyUSB1",
      usb: null,
      found: { kind: "fiscal", dialect: "x", framing: "x", baud: 57600, model: "FP-700X", serial: "DT1", firmware: "1" },
      error: null,
      configured_as: null,
    };
    const terminal: PortReport = {
      path: "tcp://10.0.0.5:2000",
      usb: null,
      found: { kind: "terminal", protocol: "privatbank", baud: null, vendor: "", model: "", version: "", terminal_id: "T1", card_data: "sent" },
      error: null,
      configured_as: null,
    };
    const doc = fromScan(fromScan({ receipt: { item_name: "Товари" } }, fiscal), terminal);
    expect(getPath(doc, "fiscal.endpoint")).toEqual({ kind: "serial", path: "/dev/ttyUSB1", baud: 57600 });
    expect(getPath(doc, "fiscal.dialect")).toBe("x");
    expect(getPath(doc, "terminal.endpoint")).toEqual({ kind: "tcp", address: "10.0.0.5:2000" });
    expect(getPath(doc, "terminal.protocol")).toBe("privatbank");
    expect(getPath(doc, "receipt.item_name")).toBe("Товари");
  });

  it("finds a field's errors and those under it", () => {
    const errors = [
      { field: "fiscal.endpoint.path", code: "required", detail: null },
      { field: "fiscal.operator", code: "operator_invalid", detail: null },
    ];
    expect(errorsOf(errors, "fiscal.endpoint").map((e) => e.code)).toEqual(["required"]);
    expect(errorsOf(errors, "terminal")).toEqual([]);
  });
});
