import type { Page } from "@playwright/test";

import { expect, screenshot, signIn, test } from "./support";

/** Drag a palette item onto the canvas at `at` (canvas coordinates of the drop). */
async function dropNode(page: Page, type: string, at: { x: number; y: number }) {
  await page.getByTestId(`palette-${type}`).dragTo(page.locator(".react-flow__pane"), { targetPosition: at });
}

/** Draw an edge from the bottom handle of `source` to the top handle of `target`. */
async function connect(page: Page, source: string, target: string) {
  const from = page.locator(`.react-flow__node[data-id="${source}"] .react-flow__handle.source`);
  const to = page.locator(`.react-flow__node[data-id="${target}"] .react-flow__handle.target`);
  const a = await from.boundingBox();
  const b = await to.boundingBox();
  if (!a || !b) throw new Error(`handles of ${source} or ${target} not on screen`);
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 12 });
  await page.mouse.up();
}

test("build a three-node workflow by dragging and connecting, save it, run it and watch it finish live", async ({
  page,
  account,
}) => {
  await signIn(page, account);
  await page.goto("/workflows/draft");
  await expect(page.getByTestId("palette-transform")).toBeVisible();

  await dropNode(page, "transform", { x: 360, y: 60 });
  await dropNode(page, "delay", { x: 360, y: 240 });
  await dropNode(page, "transform", { x: 360, y: 420 });
  for (const id of ["transform", "delay", "transform_2"]) {
    await expect(page.getByTestId(`node-${id}`)).toBeVisible();
  }
  await connect(page, "transform", "delay");
  await connect(page, "delay", "transform_2");
  await expect(page.locator(".react-flow__edge")).toHaveCount(2);

  // Live validation pins each missing parameter on its node and under its field.
  await expect(page.getByTestId("node-issues-delay")).toBeVisible();
  await page.getByTestId("node-transform").click();
  await expect(page.getByTestId("field-error-params.value")).toContainText("required");
  await page.getByLabel(/^value/i).fill('"hello from the editor"');
  await page.getByTestId("node-delay").click();
  await page.getByLabel(/^duration/i).fill("3s");
  await page.getByTestId("node-transform_2").click();
  await page.getByLabel(/^value/i).fill('"{{ nodes.transform.output }}, after a pause"');
  await expect(page.getByTestId("validation-status")).toHaveAttribute("data-valid", "true");
  await expect(page.getByTestId("node-issues-delay")).toHaveCount(0);
  await screenshot(page, "editor");

  await page.getByRole("button", { name: "Save" }).click();
  await expect(page).toHaveURL(/\/workflows\/[0-9a-f-]{36}$/);

  await page.getByRole("button", { name: "Run" }).click();
  await page.getByRole("button", { name: "Start run" }).click();
  await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}$/);

  // The delay holds the last node back: it is seen unfinished, then green, without a reload.
  await expect(page.getByTestId("run-node-transform_2")).not.toHaveAttribute("data-status", "succeeded");
  await screenshot(page, "run-live");
  for (const id of ["transform", "delay", "transform_2"]) {
    await expect(page.getByTestId(`run-node-${id}`)).toHaveAttribute("data-status", "succeeded");
  }
  await page.getByTestId("run-node-transform_2").click();
  await expect(page.getByTestId("node-output")).toContainText("hello from the editor, after a pause");
  await screenshot(page, "run-succeeded");
});
