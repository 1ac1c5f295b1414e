/**
 * End-to-end tests: the built app in Debian's Chromium against the real stack — `flowpilot dev`
 * (Temporal dev server, worker, API serving frontend/dist) on ports of its own, on a fresh data
 * directory each run. `npm run build` first; `make test` does both.
 */
import { defineConfig } from "@playwright/test";

const API_PORT = Number(process.env.E2E_API_PORT ?? 18580);
const TEMPORAL_PORT = Number(process.env.E2E_TEMPORAL_PORT ?? 18533);
export const BASE_URL = `http://127.0.0.1:${API_PORT}`;
const STATE = "frontend/e2e/.state";

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results",
  timeout: 90_000,
  expect: { timeout: 20_000 },
  fullyParallel: false,
  workers: 1,
  reporter: [["list"]],
  use: {
    baseURL: BASE_URL,
    headless: true,
    viewport: { width: 1440, height: 900 },
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  webServer: {
    command: `rm -rf ${STATE} && mkdir -p ${STATE} && exec .venv/bin/python -m cli dev`,
    cwd: "..",
    url: `${BASE_URL}/readyz`,
    timeout: 120_000,
    reuseExistingServer: false,
    gracefulShutdown: { signal: "SIGTERM", timeout: 15_000 },
    stdout: "ignore",
    stderr: "pipe",
    env: {
      DATA_DIR: `${STATE}/data`,
      API_HOST: "127.0.0.1",
      API_PORT: String(API_PORT),
      PUBLIC_URL: BASE_URL,
      TEMPORAL_ADDRESS: `127.0.0.1:${TEMPORAL_PORT}`,
      TEMPORAL_UI_URL: `http://127.0.0.1:${TEMPORAL_PORT + 1}`,
      TEMPORAL_DB_FILE: `${STATE}/temporal.db`,
      TEMPORAL_TASK_QUEUE: "e2e",
      FRONTEND_DIR: "frontend/dist",
      HTTP_ALLOWED_HOSTS: '["127.0.0.1"]',
      RATE_LIMIT_API_PER_MINUTE: "100000",
      RATE_LIMIT_LOGIN_PER_MINUTE: "1000",
      OPENAI_API_KEY: "",
      WORKER_METRICS_PORT: "0",
    },
  },
});
