import type { Page } from "@playwright/test";

import { api, expect, screenshot, signIn, test } from "./support";

interface Created {
  id: string;
}

// Stored by a user, shown back to them (and to admins): each would set window.__xss if the app
// ever rendered it as markup rather than text.
const NAME = '<img src=x onerror="window.__xss=1">';
const OUTPUT = "<script>window.__xss=2</script><img src=x onerror=window.__xss=3>";

/** Collect what the page's Content-Security-Policy refused, from the DOM event and the console. */
async function watchPolicy(page: Page): Promise<string[]> {
  const refused: string[] = [];
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) refused.push(message.text());
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      console.error(`Content Security Policy refused ${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  return refused;
}

async function expectNoScriptRan(page: Page): Promise<void> {
  expect(await page.evaluate(() => (window as { __xss?: unknown }).__xss)).toBeUndefined();
}

test("stored names and outputs show as text and run nothing, under the app's policy", async ({
  page,
  request,
  account,
}) => {
  const workflow = await api<Created>(request, account, "POST", "/workflows", {
    definition: { name: NAME, nodes: [{ id: "echo", type: "transform", params: { value: OUTPUT } }] },
  });
  const run = await api<Created>(request, account, "POST", `/workflows/${workflow.id}/runs`, { inputs: {} });
  await expect
    .poll(async () => (await api<{ status: string }>(request, account, "GET", `/runs/${run.id}`)).status)
    .toBe("succeeded");

  const refused = await watchPolicy(page);
  await signIn(page, account);
  const index = await page.goto("/workflows");
  expect(index?.headers()["content-security-policy"]).toContain("script-src 'self'");
  expect(index?.headers()["x-frame-options"]).toBe("DENY");
  await expect(page.getByTestId(`workflow-row-${workflow.id}`)).toContainText(NAME);
  await expectNoScriptRan(page);

  await page.goto(`/workflows/${workflow.id}`);
  await expect(page.getByTestId("node-echo")).toBeVisible();
  await expectNoScriptRan(page);

  await page.goto("/runs");
  await expect(page.getByTestId(`run-row-${run.id}`)).toContainText(NAME);
  await expectNoScriptRan(page);

  await page.goto(`/runs/${run.id}`);
  await expect(page.getByTestId("run-node-echo")).toHaveAttribute("data-status", "succeeded");
  await expect(page.getByText(`Run of ${NAME}`, { exact: true })).toBeVisible();
  await page.getByTestId("run-node-echo").click();
  await expect(page.getByTestId("node-output")).toContainText(OUTPUT);
  await expect(page.locator("img[src='x']")).toHaveCount(0);
  await expectNoScriptRan(page);
  await screenshot(page, "xss-escaped");

  expect(refused).toEqual([]);
});
