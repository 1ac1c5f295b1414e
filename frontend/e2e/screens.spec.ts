import { api, expect, screenshot, signIn, test } from "./support";

interface Created {
  id: string;
}

test("without a model the creator says so and offers the templates, which open in the editor and save", async ({
  page,
  account,
}) => {
  await signIn(page, account);
  await page.goto("/workflows/new");
  await expect(page.getByTestId("generate-problem")).toHaveAttribute("data-kind", "not-configured");
  await expect(page.getByTestId("generate-problem")).toContainText("OPENAI_API_KEY");
  await expect(page.getByLabel("Describe your workflow")).toHaveCount(0);
  await expect(page.getByTestId("template-card").first()).toBeVisible();
  await screenshot(page, "creator");

  await page.getByRole("button", { name: "Use this template: City weather and air quality" }).click();
  await expect(page).toHaveURL(/\/workflows\/draft$/);
  for (const id of ["place", "weather", "air", "report"]) {
    await expect(page.getByTestId(`node-${id}`)).toBeVisible();
  }
  await expect(page.getByTestId("validation-status")).toHaveAttribute("data-valid", "true");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page).toHaveURL(/\/workflows\/[0-9a-f-]{36}$/);

  await page.getByRole("link", { name: "Workflows" }).click();
  await expect(page.getByRole("link", { name: "City weather and air quality", exact: true })).toBeVisible();
  await screenshot(page, "workflow-list");
});

test("the dashboard shows the success rate, recent and failing runs", async ({ page, request, account }) => {
  const workflow = await api<Created>(request, account, "POST", "/workflows", {
    definition: {
      name: "Nightly report",
      inputs: { fail: { type: "boolean", default: false } },
      nodes: [
        { id: "collect", type: "transform", params: { value: { rows: 42 } } },
        {
          id: "check",
          type: "transform",
          needs: ["collect"],
          params: { value: "{{ nodes.collect.output.rows if not inputs.fail else inputs.missing.field }}" },
        },
      ],
    },
  });
  const runs: Created[] = [];
  for (const fail of [false, false, false, true]) {
    runs.push(await api<Created>(request, account, "POST", `/workflows/${workflow.id}/runs`, { inputs: { fail } }));
  }
  for (const run of runs) {
    await expect
      .poll(async () => (await api<{ status: string }>(request, account, "GET", `/runs/${run.id}`)).status)
      .toMatch(/succeeded|failed/);
  }

  await signIn(page, account);
  await page.goto("/");
  await expect(page.getByTestId("success-rate")).toHaveText("75%");
  await expect(page.getByTestId("failing-runs")).toContainText("Nightly report");
  await expect(page.getByTestId("recent-runs").getByRole("link")).toHaveCount(4);
  await screenshot(page, "dashboard");

  await page.getByRole("link", { name: "Runs", exact: true }).click();
  await expect(page.getByTestId("run-table")).toContainText("Nightly report");
  await screenshot(page, "run-history");
});
