/**
 * The page's SSH screen as the tests and the SSH bench drive it: the visible session's terminal
 * text, its status, logins, commands typed into it and closing it.
 */
import { expect } from "vitest";
import type { TestPage } from "../../../test/helpers/browser-page.js";

/** The visible session's panel. */
const PANEL = ".ssh-panels > [role=tabpanel]:not([hidden])";

/** The visible session's terminal screen, row by row. */
export function screenText(page: TestPage): Promise<string> {
  return page.evaluate(
    (panel) =>
      [...document.querySelectorAll(`${panel} .xterm-rows > div`)]
        .map((row) => (row.textContent ?? "").replace(/\u00a0/g, " "))
        .join("\n"),
    PANEL,
  );
}

/** An element of the visible session by its test id. */
export function visible(page: TestPage, testId: string) {
  return page.locator(`${PANEL} [data-testid="${testId}"]`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Waits until the visible terminal shows `pattern` (a string is matched literally). */
export async function waitForScreen(page: TestPage, pattern: RegExp | string, timeout = 15_000) {
  await expect
    .poll(() => screenText(page), { timeout })
    .toMatch(typeof pattern === "string" ? new RegExp(escapeRegExp(pattern)) : pattern);
}

/** Focuses the visible session's terminal. */
export async function focusTerminal(page: TestPage): Promise<void> {
  await page.locator(`${PANEL} .xterm`).click();
}

/** Types a command line into the terminal (as text input, like a paste) and presses Enter. */
export async function run(page: TestPage, command: string): Promise<void> {
  await page.keyboard.insertText(command);
  await page.keyboard.press("Enter");
}

/** Waits until the visible session has settled and expects it connected. */
export async function sshConnected(page: TestPage): Promise<void> {
  await expect
    .poll(() => visible(page, "ssh-status").getAttribute("data-state"), { timeout: 30_000 })
    .toMatch(/connected|failed|ended/);
  expect(await visible(page, "ssh-status").textContent()).toMatch(/^Connected to /);
}

const METHODS = {
  Password: "password",
  Key: "key",
  "Keyboard-interactive": "keyboard-interactive",
};

/** Where and as whom to log in (an `Sshd` of sshd.ts has `user` and `password`). */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** Fills the SSH form for `target` and opens a session with `method`. */
export async function login(
  page: TestPage,
  target: SshTarget,
  method: keyof typeof METHODS = "Password",
): Promise<void> {
  await page.getByLabel("SSH host").fill(target.host);
  await page.getByLabel("SSH port").fill(String(target.port));
  await page.getByLabel("User", { exact: true }).fill(target.user);
  await page.getByLabel("Authentication").selectOption(METHODS[method]);
  if (method === "Password")
    await page.getByLabel("Password", { exact: true }).fill(target.password);
  await page.getByRole("button", { name: "Open SSH session" }).click();
}

/** Presses a button of the visible session's panel ("Close session", "Reconnect", …). */
export async function sessionButton(page: TestPage, name: string): Promise<void> {
  await page.locator(PANEL).getByRole("button", { name }).click();
}
