import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { formatBytes, Json, storedValue } from "./Json";

const http = vi.hoisted(() => ({ get: vi.fn() }));
const download = vi.hoisted(() => vi.fn());
vi.mock("../api/client", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../api/client")>()),
  http,
}));
vi.mock("../workflows/importExport", () => ({ download }));

const large = { $stored: { key: "ab12", size: 20_971_741, preview: '{"status":200,"body":"xxxx' } };

afterEach(() => {
  cleanup();
  vi.clearAllMocks();
});

describe("Json", () => {
  it("recognises only the exact stand-in shape", () => {
    expect(storedValue(large)).toEqual(large.$stored);
    expect(storedValue({ $stored: { key: "k" } })).toBeNull();
    expect(storedValue({ $stored: large.$stored, other: 1 })).toBeNull();
    expect(storedValue(["$stored"])).toBeNull();
    expect(formatBytes(20_971_741)).toBe("20.0 MB");
    expect(formatBytes(2048)).toBe("2.0 KB");
  });

  it("shows a plain value as pretty JSON", () => {
    render(<Json value={{ a: 1 }} testId="out" />);
    expect(screen.getByTestId("out").textContent).toBe('{\n  "a": 1\n}');
  });

  it("shows a large value's size and preview, and downloads the whole of it", async () => {
    http.get.mockResolvedValue({ data: '{"status":200,"body":"xxxxxxxx"}' });
    render(<Json value={large} testId="out" wholeUrl="/runs/r1/nodes/fetch/output" />);

    expect(screen.getByTestId("out").textContent).toContain("Large value (20.0 MB)");
    expect(screen.getByTestId("out").textContent).toContain('{"status":200,"body":"xxxx');
    fireEvent.click(screen.getByRole("button", { name: "Download the whole value" }));

    await waitFor(() => expect(download).toHaveBeenCalledWith("fetch-output.json", '{"status":200,"body":"xxxxxxxx"}'));
    expect(http.get.mock.calls[0]![0]).toBe("/runs/r1/nodes/fetch/output");
  });

  it("says why a download failed", async () => {
    http.get.mockRejectedValue(new Error("network down"));
    render(<Json value={large} wholeUrl="/runs/r1/output" />);

    fireEvent.click(screen.getByRole("button", { name: "Download the whole value" }));

    expect((await screen.findByRole("alert")).textContent).toBe("network down");
    expect(download).not.toHaveBeenCalled();
  });
});
