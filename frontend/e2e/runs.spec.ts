import type { Account } from "./support";
import { api, expect, screenshot, signIn, test } from "./support";

interface Created {
  id: string;
}

async function workflowWith(request: Parameters<typeof api>[0], account: Account, definition: object) {
  return api<Created>(request, account, "POST", "/workflows", { definition });
}

test("a waiting approval is approved from the run view and the run finishes", async ({
  page,
  request,
  account,
}) => {
  const workflow = await workflowWith(request, account, {
    name: "Ship with sign-off",
    nodes: [
      { id: "build", type: "transform", params: { value: { artifact: "app-1.2.3.tar.gz" } } },
      {
        id: "sign_off",
        type: "approval",
        needs: ["build"],
        params: { message: "Ship {{ nodes.build.output.artifact }}?", timeout: "1h" },
      },
      { id: "ship", type: "transform", needs: ["sign_off"], params: { value: "shipped by {{ nodes.sign_off.output.by }}" } },
    ],
    output: "{{ nodes.ship.output }}",
  });
  const run = await api<Created>(request, account, "POST", `/workflows/${workflow.id}/runs`, { inputs: {} });

  await signIn(page, account);
  await page.goto(`/runs/${run.id}`);
  await expect(page.getByTestId("run-node-build")).toHaveAttribute("data-status", "succeeded");
  await expect(page.getByTestId("run-node-sign_off")).toHaveAttribute("data-status", "waiting");
  await expect(page.getByTestId("run-node-ship")).not.toHaveAttribute("data-status", "succeeded");
  await screenshot(page, "run-waiting-approval");

  await expect(page.getByTestId("approval-sign_off")).toBeVisible();
  await page.getByRole("button", { name: "Approve sign_off" }).click();

  await expect(page.getByTestId("run-node-sign_off")).toHaveAttribute("data-status", "succeeded");
  await expect(page.getByTestId("run-node-ship")).toHaveAttribute("data-status", "succeeded");
  await page.getByTestId("run-node-ship").click();
  await expect(page.getByTestId("node-output")).toContainText(`shipped by ${account.email}`);
  await screenshot(page, "run-approved");
});

test("a failed run shows its error and is retried from the failed node", async ({ page, request, account }) => {
  const workflow = await workflowWith(request, account, {
    name: "Greets a missing input",
    nodes: [
      { id: "fetch", type: "transform", params: { value: { user: "ada" } } },
      { id: "greet", type: "transform", needs: ["fetch"], params: { value: "Hello {{ inputs.nobody.name }}" } },
    ],
  });
  const run = await api<Created>(request, account, "POST", `/workflows/${workflow.id}/runs`, { inputs: {} });

  await expect
    .poll(async () => (await api<{ status: string }>(request, account, "GET", `/runs/${run.id}`)).status)
    .toBe("failed");

  await signIn(page, account);
  await page.goto("/runs?status=failed");
  await page.getByTestId(`run-row-${run.id}`).getByRole("link", { name: /Greets a missing input/ }).click();
  await expect(page).toHaveURL(new RegExp(`/runs/${run.id}`));
  await expect(page.getByTestId("run-node-greet")).toHaveAttribute("data-status", "failed");
  await expect(page.getByTestId("run-node-fetch")).toHaveAttribute("data-status", "succeeded");
  await page.getByTestId("run-node-greet").click();
  await expect(page.getByTestId("node-detail")).toContainText("nobody");
  await screenshot(page, "run-failed");

  await page.getByRole("button", { name: "Retry from failure" }).click();
  const form = page.getByTestId("retry-form");
  const params = form.getByLabel(/New params for greet/);
  await expect(params).toHaveValue(/inputs\.nobody\.name/);
  await params.fill(JSON.stringify({ value: "Hello {{ nodes.fetch.output.user }}" }));
  await form.getByRole("button", { name: "Start retry" }).click();

  await expect(page).not.toHaveURL(new RegExp(`/runs/${run.id}$`));
  await expect(page.getByTestId("run-node-greet")).toHaveAttribute("data-status", "succeeded");
  await page.getByTestId("run-node-greet").click();
  await expect(page.getByTestId("node-output")).toContainText("Hello ada");
  await screenshot(page, "run-retried");
});
