import { cleanup, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { afterEach, describe, expect, it } from "vitest";

import type { ScopeName } from "./scope";
import { TemplateInput } from "./TemplateInput";

const NAMES: ScopeName[] = [
  { name: "inputs.repo", detail: "input" },
  { name: "nodes.fetch.output", detail: "output" },
  { name: "run.id", detail: "run" },
];

function Harness({ initial = "", multiline = false }: { initial?: string; multiline?: boolean }) {
  const [value, setValue] = useState(initial);
  return (
    <>
      <label htmlFor="field">Prompt</label>
      <TemplateInput id="field" label="Prompt" value={value} onChange={setValue} names={NAMES} multiline={multiline} />
      <output data-testid="value">{value}</output>
    </>
  );
}

afterEach(cleanup);

describe("TemplateInput", () => {
  it("filters the names by what follows {{", async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.type(screen.getByLabelText("Prompt"), "{{{{ nod");
    const options = within(screen.getByRole("listbox")).getAllByRole("option");
    expect(options.map((option) => option.querySelector(".font-mono")?.textContent)).toEqual(["nodes.fetch.output"]);
    await user.keyboard("{Enter}");
    expect(screen.getByTestId("value").textContent).toBe("{{ nodes.fetch.output }}");
  });

  it("opens on Ctrl+Space, inserts at the caret and closes on Escape", async () => {
    const user = userEvent.setup();
    render(<Harness initial="Hello !" />);
    const field = screen.getByRole("combobox", { name: "Prompt" }) as HTMLInputElement;
    await user.click(field);
    field.setSelectionRange(6, 6);
    await user.keyboard("{Control>} {/Control}");
    expect(field.getAttribute("aria-expanded")).toBe("true");
    expect(within(screen.getByRole("listbox")).getAllByRole("option")).toHaveLength(3);
    await user.keyboard("{Escape}");
    expect(field.getAttribute("aria-expanded")).toBe("false");
    await user.keyboard("{Control>} {/Control}{ArrowUp}{Enter}");
    expect(screen.getByTestId("value").textContent).toBe("Hello {{ run.id }}!");
    expect(field.selectionStart).toBe("Hello {{ run.id }}".length);
  });

  it("keeps Enter for new lines in a textarea when nothing is offered", async () => {
    const user = userEvent.setup();
    render(<Harness multiline />);
    await user.type(screen.getByLabelText("Prompt"), "a{Enter}b");
    expect(screen.getByTestId("value").textContent).toBe("a\nb");
  });

  it("lists the names in the Insert menu, usable from the keyboard", async () => {
    const user = userEvent.setup();
    render(<Harness initial="x" />);
    const button = screen.getByRole("button", { name: "Insert a name into Prompt" });
    await user.click(button);
    const menu = screen.getByRole("menu");
    expect(within(menu).getAllByRole("menuitem")).toHaveLength(3);
    expect(document.activeElement).toBe(within(menu).getAllByRole("menuitem")[0]);
    await user.keyboard("{ArrowDown}{Enter}");
    expect(screen.queryByRole("menu")).toBeNull();
    expect(screen.getByTestId("value").textContent).toBe("x{{ nodes.fetch.output }}");
    expect(document.activeElement).toBe(screen.getByLabelText("Prompt"));
  });

  it("closes the Insert menu on Escape, back on its button", async () => {
    const user = userEvent.setup();
    render(<Harness />);
    const button = screen.getByRole("button", { name: "Insert a name into Prompt" });
    await user.click(button);
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("menu")).toBeNull();
    expect(document.activeElement).toBe(button);
  });
});
