/** What the end-to-end tests share: accounts and workflows made through the API, screenshots. */
import { type APIRequestContext, expect, type Page, test as base } from "@playwright/test";

export interface Account {
  email: string;
  password: string;
  token: string;
}

let counter = 0;

export function uniqueEmail(label: string): string {
  counter += 1;
  return `${label}-${Date.now()}-${counter}@e2e.example.com`;
}

export async function createAccount(request: APIRequestContext, label = "user"): Promise<Account> {
  const email = uniqueEmail(label);
  const password = "correct horse battery";
  expect((await request.post("/api/auth/register", { data: { email, password } })).status()).toBe(201);
  const login = await request.post("/api/auth/login", { data: { email, password } });
  expect(login.status()).toBe(200);
  return { email, password, token: ((await login.json()) as { access_token: string }).access_token };
}

/** Sign `page` in as `account` the way the app remembers a session (its persisted store). */
export async function signIn(page: Page, account: Account): Promise<void> {
  await page.addInitScript((token) => {
    window.localStorage.setItem("flowpilot.auth", JSON.stringify({ state: { token }, version: 0 }));
  }, account.token);
}

export async function api<T>(
  request: APIRequestContext,
  account: Account,
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  data?: unknown,
): Promise<T> {
  const answer = await request.fetch(`/api${path}`, {
    method,
    data,
    headers: { Authorization: `Bearer ${account.token}` },
  });
  expect(answer.ok(), `${method} ${path}: ${answer.status()} ${await answer.text()}`).toBe(true);
  return (await answer.json()) as T;
}

/** Each test keeps a picture of the screen it ends on (test-results/screens/<name>.png). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `test-results/screens/${name}.png`, fullPage: true });
}

export const test = base.extend<{ account: Account }>({
  account: async ({ request }, use) => {
    await use(await createAccount(request));
  },
});

export { expect };
