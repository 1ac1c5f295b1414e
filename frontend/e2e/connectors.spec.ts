import { expect, screenshot, signIn, test } from "./support";

test("a credential is created and tested, and its value is never shown again", async ({ page, account }) => {
  const secret = `canary-${Date.now()}-do-not-show`;
  await signIn(page, account);
  await page.goto("/connectors");
  await page.getByRole("button", { name: "New credential" }).click();
  await page.getByLabel("Name", { exact: true }).fill("ci-token");
  await page.getByLabel("Kind").selectOption("bearer");
  await page.getByLabel(/token/i).fill(secret);
  await page.getByRole("button", { name: "Save credential" }).click();

  const row = page.getByRole("row", { name: /ci-token/ });
  await expect(row).toBeVisible();
  await expect(row).toContainText("bearer");
  await page.getByRole("button", { name: "Test ci-token" }).click();
  // A bearer token is not tied to one service: it is checked for shape, not sent anywhere.
  await expect(page.getByTestId("credential-test-result")).toContainText("not contacted");
  await expect(page.locator("body")).not.toContainText(secret);
  for (const input of await page.locator("input").all()) {
    expect(await input.inputValue()).not.toContain(secret);
  }

  await page.reload();
  await expect(page.getByRole("row", { name: /ci-token/ })).toBeVisible();
  const html = await page.content();
  expect(html).not.toContain(secret);
  await screenshot(page, "connectors");
});
