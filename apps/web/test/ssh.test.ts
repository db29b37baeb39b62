/**
 * The SSH screen against Debian's OpenSSH server in a wireguard-go namespace, through the relay on
 * every carriage (HTTP/3 datagrams, HTTP/3 stream, the WebSocket fallback): password, key (generated in the page) and
 * keyboard-interactive logins; a command's output read from the terminal; `stty size` after a
 * resize; vim; a 10 MB random file's hash and 10 MB of text through the terminal; Ctrl-C; trust
 * on first use and a changed host key refused; the tunnel going down; servers that send garbage
 * or stall. All under the relay's Content-Security-Policy. In each browser (Chromium and Firefox
 * ESR), password and key logins, a command's output and Ctrl-C; the rest in Chromium, which has
 * the rest of Playwright's API (viewport resizes, DevTools' heap, init scripts).
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestPage } from "../../../test/helpers/browser-page.js";
import { runCommand } from "../../../test/helpers/command.js";
import { startWireGuardPeer, type WireGuardPeer } from "../../../test/helpers/netns.js";
import { type Sshd, startSshd } from "../../../test/helpers/sshd.js";
import {
  focusTerminal,
  login as loginAs,
  run,
  screenText,
  sessionButton,
  sshConnected,
  visible,
  waitForScreen,
} from "./ssh-screen.js";
import {
  BROWSERS,
  CARRIAGES,
  type CarriageCase,
  chromiumBrowser,
  connectTunnel,
  cspViolations,
  importConfig,
  newContext,
  open,
  pageKeyPair,
  pageUrl,
  type RunningRelay,
  recordCspViolations,
  requireBuild,
  screenshot,
  startRelay,
  useBrowser,
  watchErrors,
  wgQuickConfig,
  wgUpstream,
} from "./stack.js";

const SERVER = "10.78.0.1";
const client = pageKeyPair();

let peer: WireGuardPeer;
let sshd: Sshd;
let chromium: Browser;

beforeAll(async () => {
  requireBuild();
  peer = await startWireGuardPeer({
    addresses: [`${SERVER}/24`, "fd78::1/64"],
    peers: [{ publicKey: client.publicKey, allowedIPs: ["10.78.0.2/32", "fd78::2/128"] }],
  });
  sshd = await startSshd(peer.ns);
  // The carriage suites below use more of Playwright than the page interface has (viewport
  // resizes, DevTools' heap, init scripts): Chromium. "SSH in %s" runs in every browser.
  chromium = await chromiumBrowser();
});

afterAll(async () => {
  await chromium?.close();
  await sshd?.stop();
  await peer?.stop();
});

/** The page's wg-quick config for the namespace's wireguard-go. */
const wgConfig = () =>
  wgQuickConfig({
    privateKey: client.privateKey,
    addresses: ["10.78.0.2/32", "fd78::2/128"],
    peerPublicKey: peer.publicKey,
    allowedIPs: ["10.78.0.0/24", "fd78::/64"],
  });

/** Whether the test user's `sleep 100` runs (the namespace shares the process table). */
async function sleeping(): Promise<boolean> {
  const found = await runCommand("pgrep", ["-U", String(sshd.uid), "-f", "^sleep 100$"], {
    allowFailure: true,
  });
  return found.code === 0;
}

/** The namespace's sshd, or another server of the namespace on `port`. */
const target = (port = sshd.port) => ({
  host: SERVER,
  port,
  user: sshd.user,
  password: sshd.password,
});
const login = (
  page: TestPage,
  method: "Password" | "Key" | "Keyboard-interactive",
  port?: number,
) => loginAs(page, target(port), method);

/** Has the page generate an SSH key and authorizes its public key on the namespace's sshd. */
async function authorizePageKey(page: TestPage): Promise<void> {
  await page.getByLabel("Authentication").selectOption("key");
  await page.getByRole("button", { name: "Generate key" }).click();
  const line = page.getByTestId("ssh-public-key");
  await expect.poll(() => line.inputValue()).toMatch(/^ssh-ed25519 AAAA\S+ wiregate-page$/);
  sshd.authorize([await line.inputValue()]);
}

/** The checks that need no second run go with the first carriage (HTTP/3 datagrams). */
const first = (transport: CarriageCase) => transport === CARRIAGES[0];
const slug = (transport: CarriageCase) => transport.name.toLowerCase().replace(/[^a-z0-9]+/g, "-");

describe.each(CARRIAGES)("SSH to OpenSSH in a namespace over $name", (transport) => {
  let relay: RunningRelay;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    relay = await startRelay([wgUpstream(peer)], 0, transport.http3);
    page = await (await newContext(chromium)).newPage();
    await recordCspViolations(page);
    errors = watchErrors(page);
  });

  it("connects the tunnel to the namespace", async () => {
    await open(page, pageUrl(relay.address, { upstream: "wg", carriage: transport.carriage }));
    await importConfig(page, wgConfig(), client.publicKey);
    await connectTunnel(page, `Connected · ${transport.badge} · MTU 1420`);
  });

  afterAll(async () => {
    await page?.context().close();
    await relay?.stop();
  });

  it("logs in with a password after trusting the host key, and the terminal is a terminal", async () => {
    await page.getByRole("tab", { name: "SSH", exact: true }).click();
    await login(page, "Password");
    // Trust on first use, with the fingerprint as ssh-keygen -lf prints it.
    const fingerprint = (await sshd.hostKeyFingerprint("ed25519")).split(" ")[1]!;
    const prompt = visible(page, "ssh-host-key-prompt");
    await expect.poll(() => prompt.textContent(), { timeout: 20_000 }).toContain(fingerprint);
    expect(await prompt.textContent()).toContain("ssh-ed25519");
    await page.getByRole("button", { name: "Trust and connect" }).click();
    await sshConnected(page);
    expect(await page.getByTestId("ssh-known-hosts").textContent()).toContain(fingerprint);

    await focusTerminal(page);
    await run(page, "echo hello-$((6*7)) $TERM");
    await waitForScreen(page, "hello-42 xterm-256color");
    // UTF-8 both ways, and colours (the SGR sequence is drawn, not printed).
    await run(page, "echo ü€ | od -An -tx1");
    await waitForScreen(page, "c3 bc e2 82 ac 0a");
    await run(page, "printf '\\033[31mred-\\342\\202\\254\\033[0m\\n'");
    await waitForScreen(page, /^red-€$/m);
    expect(await page.locator(".xterm-rows span.xterm-fg-1").first().textContent()).toContain(
      "red",
    );

    // The server sees the terminal's size, also after a resize (window-change).
    const terminal = visible(page, "ssh-terminal");
    const size = async () =>
      `${await terminal.getAttribute("data-rows")} ${await terminal.getAttribute("data-cols")}`;
    await run(page, "clear; stty size");
    await waitForScreen(page, new RegExp(`^${await size()}$`, "m"));
    const before = await size();
    await page.setViewportSize({ width: 700, height: 700 });
    await expect.poll(size).not.toBe(before);
    await run(page, "clear; stty size");
    await waitForScreen(page, new RegExp(`^${await size()}$`, "m"));
    await page.setViewportSize({ width: 1024, height: 900 });
    await expect.poll(size).toBe(before);

    // A full-screen program.
    const note = `note-${slug(transport)}.txt`;
    await run(page, `vim -u NONE -N ~/${note}`);
    await waitForScreen(page, `${note}" [New`);
    await page.keyboard.insertText("ihello from vim");
    await page.keyboard.press("Escape");
    await run(page, ":wq");
    // Back at the shell's prompt (vim drops what was typed ahead of its exit).
    await waitForScreen(page, new RegExp(`${note}\\n\\S+@\\S+:~\\$ *$`, "m"));
    await run(page, `clear; cat ~/${note}`);
    await waitForScreen(page, /^hello from vim$/m);

    // Ctrl-C interrupts.
    await run(page, "sleep 100");
    await expect.poll(() => sleeping(), { timeout: 10_000 }).toBe(true);
    await page.keyboard.press("Control+C");
    await waitForScreen(page, /\^C\n\S+@\S+:~\$ *$/m);
    expect(await sleeping()).toBe(false);
    await run(page, "echo interrupted-$?");
    await waitForScreen(page, "interrupted-130");
    await screenshot(page, `ssh-${slug(transport)}-terminal`);
  });

  it("shows the right hash of 10 MB of random data, and carries 10 MB of text through the terminal", async () => {
    const random = `random-${slug(transport)}.bin`;
    await run(page, `clear; head -c 10000000 /dev/urandom | tee ~/${random} | sha256sum`);
    // sha256sum prints once tee has written the whole file.
    await waitForScreen(page, /^[0-9a-f]{64} {2}-$/m, 30_000);
    const file = readFileSync(join(sshd.home, random));
    expect(file.length).toBe(10_000_000);
    const hash = createHash("sha256").update(file).digest("hex");
    await waitForScreen(page, hash, 30_000);

    // 10 MB of base64 text to the screen, then a marker: every byte went through the terminal.
    await run(page, "head -c 7500000 /dev/urandom | base64 > ~/big.txt; clear");
    const terminal = visible(page, "ssh-terminal");
    const receivedBefore = Number(await terminal.getAttribute("data-received"));
    const started = performance.now();
    await run(page, "cat ~/big.txt; echo END-$((40+2))");
    await waitForScreen(page, /^END-42$/m, 120_000);
    const seconds = (performance.now() - started) / 1000;
    const received = Number(await terminal.getAttribute("data-received")) - receivedBefore;
    const size = readFileSync(join(sshd.home, "big.txt")).length;
    expect(received).toBeGreaterThanOrEqual(size);
    // The last line of the file is on the screen, just above the marker.
    const last = readFileSync(join(sshd.home, "big.txt"), "utf8").trimEnd().split("\n").at(-1)!;
    expect(await screenText(page)).toContain(last);
    console.log(
      `SSH over ${transport.name}: ${(size / 1e6).toFixed(1)} MB of text through the terminal in ${seconds.toFixed(1)} s (${(size / 1e6 / seconds).toFixed(2)} MB/s)`,
    );
  });

  it("logs in with a key generated in the page, in a second tab", async () => {
    await authorizePageKey(page);
    await login(page, "Key");
    await sshConnected(page);
    expect(await page.getByRole("tab", { name: /^wgssh@10\.78\.0\.1 / }).count()).toBe(2);
    await focusTerminal(page);
    await run(page, "echo key-login-$(whoami)");
    await waitForScreen(page, "key-login-wgssh");
    // Ctrl-D ends the shell, and the session says so.
    await page.keyboard.press("Control+D");
    await expect
      .poll(() => visible(page, "ssh-status").textContent(), { timeout: 10_000 })
      .toMatch(/^Session ended: the shell exited/);
    await sessionButton(page, "Close session");
    expect(errors.filter((e) => e.startsWith("pageerror"))).toEqual([]);
    expect(await cspViolations(page)).toEqual([]);
  });

  // The checks below need no second run: they are registered on the first carriage only.
  if (!first(transport)) return;

  it("holds a server's flood to the channel's window: the page's heap stays bounded, Ctrl-C stops it", async () => {
    // The SSH channel's window (1 MiB) is reopened only once xterm has parsed the data, so
    // what the server can have in flight toward the page is bounded, however fast it sends.
    const cdp = await page.context().newCDPSession(page);
    const heap = async () => {
      await cdp.send("HeapProfiler.collectGarbage");
      return (await cdp.send("Runtime.getHeapUsage")).usedSize;
    };
    const terminal = visible(page, "ssh-terminal");
    const received = async () => Number(await terminal.getAttribute("data-received"));
    await focusTerminal(page);
    await run(page, "clear");
    const before = await heap();
    const start = await received();
    await run(page, "cat /dev/zero | base64");
    let peak = before;
    await expect
      .poll(
        async () => {
          peak = Math.max(peak, await heap());
          return (await received()) - start;
        },
        { timeout: 120_000, interval: 250 },
      )
      .toBeGreaterThan(30_000_000);
    await page.keyboard.press("Control+C");
    await waitForScreen(page, /\S+@\S+:~\$ *$/m, 30_000);
    console.log(
      `flood of ${((await received()) - start) / 1e6} MB: the page's heap went from ${(before / 1e6).toFixed(1)} to at most ${(peak / 1e6).toFixed(1)} MB`,
    );
    expect(peak - before).toBeLessThan(32 * 1024 * 1024);
    await cdp.detach();
  });

  it("answers keyboard-interactive prompts", async () => {
    await login(page, "Keyboard-interactive");
    const form = page.getByRole("form", { name: "Server prompts" });
    await form.getByLabel(/Password/).fill(sshd.password, { timeout: 20_000 });
    await form.getByRole("button", { name: "Send" }).click();
    await sshConnected(page);
    await focusTerminal(page);
    await run(page, "echo kbd-$(id -un)");
    await waitForScreen(page, "kbd-wgssh");
    await sessionButton(page, "Close session");
  });

  it("refuses a changed host key loudly, until the old one is removed on purpose", async () => {
    const old = (await sshd.hostKeyFingerprint("ed25519")).split(" ")[1]!;
    await sshd.rekey();
    const fresh = (await sshd.hostKeyFingerprint("ed25519")).split(" ")[1]!;
    expect(fresh).not.toBe(old);
    await login(page, "Password");
    const status = visible(page, "ssh-status");
    await expect.poll(() => status.getAttribute("data-state"), { timeout: 30_000 }).toBe("failed");
    const text = (await status.textContent()) ?? "";
    expect(text).toContain("REMOTE HOST IDENTIFICATION HAS CHANGED");
    expect(text).toContain(old);
    expect(text).toContain(fresh);
    await screenshot(page, "ssh-host-key-changed");
    await sessionButton(page, "Close session");
    // Removed on purpose: trust on first use again, with the new fingerprint.
    await page.getByRole("button", { name: `Remove the host key of ${SERVER}` }).click();
    await login(page, "Password");
    await expect
      .poll(() => visible(page, "ssh-host-key-prompt").textContent(), { timeout: 20_000 })
      .toContain(fresh);
    await page.getByRole("button", { name: "Trust and connect" }).click();
    await sshConnected(page);
  });

  it("ends every session with a clear message when the tunnel goes down, and reconnects on demand", async () => {
    await page.getByRole("tab", { name: "Connect" }).click();
    await page.getByRole("button", { name: "Disconnect" }).click();
    await page.getByRole("tab", { name: "SSH", exact: true }).click();
    await expect
      .poll(() => visible(page, "ssh-status").textContent(), { timeout: 10_000 })
      .toBe("Session ended: the tunnel was disconnected.");
    await page.getByRole("tab", { name: "Connect" }).click();
    await connectTunnel(page);
    await page.getByRole("tab", { name: "SSH", exact: true }).click();
    await sessionButton(page, "Reconnect");
    await sshConnected(page);
    await focusTerminal(page);
    await run(page, "echo back-$((2+3))");
    await waitForScreen(page, "back-5");
    await screenshot(page, "ssh-reconnected");
    await sessionButton(page, "Close session");
  });

  it("says what went wrong with a server that sends garbage or stalls, and stays responsive", async () => {
    const script = [
      'const net = require("node:net");',
      'const garbage = net.createServer((s) => { s.on("error", () => {}); s.write("HTTP/1.1 400 Bad Request\\r\\n\\r\\n"); s.write(require("node:crypto").randomBytes(70000)); });',
      'const stall = net.createServer((s) => { s.on("error", () => {}); s.write("SSH-2.0-OpenSSH_9.2\\r\\n"); });',
      'garbage.listen(2222, () => stall.listen(2223, () => console.log("ready")));',
    ].join(" ");
    const server = peer.ns.spawn(process.execPath, ["-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve) => server.stdout!.once("data", () => resolve()));
    try {
      await login(page, "Password", 2222);
      const status = visible(page, "ssh-status");
      await expect
        .poll(() => status.getAttribute("data-state"), { timeout: 30_000 })
        .toBe("failed");
      expect(await status.textContent()).toMatch(/^Not connected: /);
      const garbageMessage = await status.textContent();
      await sessionButton(page, "Close session");

      await login(page, "Password", 2223);
      // While the server stalls, the page answers.
      await page.getByRole("tab", { name: "Status" }).click();
      await page.getByRole("tab", { name: "SSH", exact: true }).click();
      await expect
        .poll(() => visible(page, "ssh-status").getAttribute("data-state"), { timeout: 40_000 })
        .toBe("failed");
      expect(await visible(page, "ssh-status").textContent()).toMatch(
        /^Not connected: .*did not finish within 20 s/,
      );
      console.log(
        `garbage: ${garbageMessage}; stall: ${await visible(page, "ssh-status").textContent()}`,
      );
      await screenshot(page, "ssh-hostile");
      await sessionButton(page, "Close session");
    } finally {
      server.kill();
    }
  });

  it("imports Ed25519 and ECDSA keys in OpenSSH's format, refuses a locked one, and remembers only when asked", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wiregate-ssh-keys-"));
    try {
      const input = page.getByLabel(/^Import a private key/);
      await page.getByLabel("Authentication").selectOption({ label: "Key" });
      const locked = join(dir, "id_locked");
      await runCommand("ssh-keygen", ["-q", "-t", "ed25519", "-N", "a passphrase", "-f", locked]);
      await input.setInputFiles(locked);
      await expect
        .poll(() => page.getByTestId("ssh-key-state").textContent())
        .toMatch(/^Not imported: this key is protected by a passphrase/);
      for (const type of ["ed25519", "ecdsa"]) {
        const key = join(dir, `id_${type}`);
        await runCommand("ssh-keygen", [
          "-q",
          "-t",
          type,
          "-N",
          "",
          "-C",
          `${type}@test`,
          "-f",
          key,
        ]);
        await input.setInputFiles(key);
        const pub = readFileSync(`${key}.pub`, "utf8").trim();
        await expect.poll(() => page.getByTestId("ssh-public-key").inputValue()).toBe(pub);
        sshd.authorize([pub]);
        await login(page, "Key");
        await sshConnected(page);
        await focusTerminal(page);
        await run(page, `echo imported-${type}-$(whoami)`);
        await waitForScreen(page, `imported-${type}-wgssh`);
        await sessionButton(page, "Close session");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const pub = await page.getByTestId("ssh-public-key").inputValue();
    const reopen = async () => {
      await open(page, pageUrl(relay.address, { upstream: "wg", carriage: transport.carriage }));
      await page.getByRole("tab", { name: "SSH", exact: true }).click();
      await page.getByLabel("Authentication").waitFor();
    };
    // Not asked: nothing survives a reload.
    await reopen();
    expect(await page.getByTestId("ssh-known-hosts").textContent()).toBe("None yet.");
    expect(
      await page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name)),
    ).not.toContain("wiregate-ssh");
    // Asked: the key comes back after a reload, until the user unticks it.
    await page.getByLabel("Authentication").selectOption({ label: "Key" });
    await page.getByRole("button", { name: "Generate key" }).click();
    await expect
      .poll(() => page.getByTestId("ssh-public-key").inputValue())
      .toMatch(/^ssh-ed25519 /);
    const generated = await page.getByTestId("ssh-public-key").inputValue();
    expect(generated).not.toBe(pub);
    await page.getByLabel(/^Remember the key and known hosts/).check();
    await expect
      .poll(() => page.getByTestId("ssh-remember-state").textContent())
      .toBe("Saved in this browser.");
    await reopen();
    await expect.poll(() => page.getByTestId("ssh-public-key").inputValue()).toBe(generated);
    expect(await page.getByLabel(/^Remember the key and known hosts/).isChecked()).toBe(true);
    await page.getByLabel(/^Remember the key and known hosts/).uncheck();
    await expect
      .poll(() => page.getByTestId("ssh-remember-state").textContent())
      .toBe("Deleted from this browser.");
    await reopen();
    expect(await page.getByTestId("ssh-public-key").inputValue()).toBe("");
  });
});

describe.each(BROWSERS)("SSH in %s, over HTTP/3 datagrams", (name) => {
  const b = useBrowser(name);
  let relay: RunningRelay;
  let page: TestPage;

  beforeAll(async () => {
    relay = await startRelay([wgUpstream(peer)], 0, true);
    page = await (await newContext(b())).newPage();
  });

  afterAll(async () => {
    await relay?.stop();
  });

  it("logs in with a password and with a key generated in the page; commands, output, Ctrl-C", async () => {
    const errors = watchErrors(page);
    await open(page, pageUrl(relay.address, { upstream: "wg", carriage: "datagrams" }));
    await importConfig(page, wgConfig(), client.publicKey);
    await connectTunnel(page, /^Connected · WebTransport \(HTTP\/3\)/);
    await page.getByRole("tab", { name: "SSH", exact: true }).click();
    await login(page, "Password");
    const fingerprint = (await sshd.hostKeyFingerprint("ed25519")).split(" ")[1]!;
    await expect
      .poll(() => visible(page, "ssh-host-key-prompt").textContent(), { timeout: 20_000 })
      .toContain(fingerprint);
    await page.getByRole("button", { name: "Trust and connect" }).click();
    await sshConnected(page);
    await focusTerminal(page);
    await run(page, `echo hello-$((6*7)) from-${name}`);
    await waitForScreen(page, `hello-42 from-${name}`);
    await run(page, "sleep 100");
    await expect.poll(() => sleeping(), { timeout: 10_000 }).toBe(true);
    await page.keyboard.press("Control+C");
    await waitForScreen(page, /\^C\n\S+@\S+:~\$ *$/m);
    await run(page, "echo interrupted-$?");
    await waitForScreen(page, "interrupted-130");
    await screenshot(page, "ssh-browser");

    await authorizePageKey(page);
    await login(page, "Key");
    await sshConnected(page);
    await focusTerminal(page);
    await run(page, "echo key-login-$(whoami)");
    await waitForScreen(page, "key-login-wgssh");
    expect(errors.filter((e) => e.startsWith("pageerror"))).toEqual([]);
  });
});
