/**
 * A connected page left alone keeps its relay session (src/keepalive.ts): its WireGuard peer sends
 * a persistent keepalive at a third of the idle timeout the relay names in the welcome, and the
 * relay counts each as activity. In each browser (Chromium, Firefox ESR), the relay with a 4.5 s idle timeout (so the page
 * keeps alive every second), the embedded demo peer. The trigger is the keepalives themselves: six
 * of them, a second apart, span more than the idle timeout, and the session is still the same one.
 * Before: nothing crossed the tunnel, the relay closed the session at its idle timeout and the page
 * dialed a new one (every two minutes with the default timeout).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BROWSERS,
  connectTunnel,
  newContext,
  open,
  pageUrl,
  type Stack,
  startStack,
  type TestPage,
  useBrowser,
  watchErrors,
} from "./stack.js";

const IDLE_TIMEOUT_MS = 4_500;
describe.each(BROWSERS)("in %s", (name) => {
  const b = useBrowser(name);

  describe.each([
    { name: "WebSocket", http3: false },
    { name: "HTTP/3", http3: true },
  ])("a connected page left alone over $name", ({ http3 }) => {
    let stack: Stack;
    let page: TestPage;
    let errors: string[];

    beforeAll(async () => {
      stack = await startStack([], http3, false, { idleTimeoutMs: IDLE_TIMEOUT_MS });
      page = await (await newContext(b())).newPage();
      errors = watchErrors(page);
    });

    afterAll(async () => {
      await page?.context().close();
      await stack?.close();
    });

    it("keeps its session past the relay's idle timeout with keepalives, one a second", async () => {
      await open(page, pageUrl(stack.relay.address, { peer: stack.demo.publicKey }));
      await page.getByRole("button", { name: "Generate key pair" }).click();
      const badge = page.getByTestId("badge");
      await connectTunnel(page, /^Connected/, 15_000);
      const { relay } = stack.relay;
      expect(relay.sessions.size).toBe(1);
      const [session] = [...relay.sessions];
      const fromPage = () => session!.stats.toUpstream.datagrams;
      // The handshake, then the page's confirming keepalive: the tunnel is up and nothing else moves.
      await expect.poll(fromPage, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
      const before = fromPage();
      await expect.poll(() => fromPage() - before, { timeout: 60_000 }).toBeGreaterThanOrEqual(6);
      expect(session!.isClosed()).toBe(false);
      expect([...relay.sessions]).toEqual([session]);
      expect(await badge.textContent()).toMatch(/^Connected/);
      expect(errors.filter((e) => e.startsWith("pageerror"))).toEqual([]);
    }, 90_000);
  });
});
