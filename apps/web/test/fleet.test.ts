/**
 * Many relays, in each browser, over HTTP/3 and over WebSocket: three relay processes in front of
 * one wireguard-go in a network namespace, the page served by the first with the fleet in its
 * wiregate.json (listed on the Connect screen; a bad line there is refused; a wrong token is
 * refused by each relay once, when measured, and the page stops). The page measures all three and
 * says which it uses and why; the relay it uses is
 * killed (SIGKILL) in the middle of a ping; the page moves to another within seconds, with the
 * same WireGuard keys and device: wireguard-go sees the session roam to the new relay's socket
 * with no new handshake, and the ping goes on. No timing is asserted: each step waits for its event.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWireGuardPeer, type WireGuardPeer } from "../../../test/helpers/netns.js";
import { metricsText, sample, TOKEN } from "../../relay/test/helpers.js";
import { connectFleetPage, openFleetPage, relayInUse, startFleet } from "./fleet-stack.js";
import {
  BROWSERS,
  CARRIAGES,
  newContext,
  open,
  openTab,
  pageKeyPair,
  pageUrl,
  type TestPage,
  useBrowser,
  watchErrors,
  wgQuickConfig,
} from "./stack.js";

let peer: WireGuardPeer;
const keys = pageKeyPair();
const clientPublic = keys.publicKey;

beforeAll(async () => {
  peer = await startWireGuardPeer({
    addresses: ["10.77.0.1/24"],
    peers: [{ publicKey: clientPublic, allowedIPs: ["10.77.0.2/32"] }],
  });
});
afterAll(async () => {
  await peer?.stop();
});

/** What wireguard-go knows of the page: the endpoint it sends to and its latest handshake. */
async function seenByUpstream() {
  const ours = (await peer.dump()).peers.find((p) => p.publicKey === clientPublic);
  return { endpoint: ours?.endpoint ?? null, latestHandshake: ours?.latestHandshake ?? 0 };
}

/** Waits until the page is on a relay other than `from`; its name. */
async function movedFrom(page: TestPage, from: string): Promise<string> {
  await expect
    .poll(() => relayInUse(page), { timeout: 30_000 })
    .toSatisfy((name) => name !== null && name !== from);
  return (await relayInUse(page))!;
}

/** HTTP/3 (one message per datagram) and the WebSocket fallback. */
const CASES = CARRIAGES.filter((c) => c.name !== "HTTP/3 stream");

describe.each(BROWSERS)("in %s", (name) => {
  const b = useBrowser(name);

  it.each(CASES)(
    "lists the fleet, stops at a refusal every relay repeats, and moves to another relay when its relay is killed mid-ping, same keys ($name)",
    async (carriage) => {
      const fleet = await startFleet(`${peer.underlayAddress}:${peer.listenPort}`, carriage.http3);
      const context = await newContext(b());
      try {
        const page = await context.newPage();
        const errors = watchErrors(page);
        const config = wgQuickConfig({
          privateKey: keys.privateKey,
          addresses: ["10.77.0.2/32"],
          peerPublicKey: peer.publicKey,
          allowedIPs: ["10.77.0.0/24"],
        });
        // A fleet in the query string (one relay per line) wins over wiregate.json's.
        const asked = "q-1 https://q-1.example/wiregate\nq-2 https://q-2.example/wiregate";
        await open(
          page,
          pageUrl(fleet.relays[0]!.address, { upstream: "wg", token: TOKEN, relays: asked }),
        );
        expect(await page.getByTestId("relays").inputValue()).toBe(asked);
        await openFleetPage(page, fleet, carriage.carriage);
        // The Connect screen lists the fleet of wiregate.json; a bad line is refused, saying why.
        const more = page.getByTestId("relays");
        const listed = await more.inputValue();
        expect(listed.split("\n").map((line) => line.split(" ")[0])).toEqual([
          "relay-1",
          "relay-2",
          "relay-3",
        ]);
        const connect = page.getByRole("button", { name: "Connect", exact: true });
        const message = page.locator("#panel-connect .message");
        await page.getByTestId("config").fill(config);
        await more.fill(`${listed}\nrelay-4`);
        await connect.click();
        await expect
          .poll(() => message.textContent())
          .toBe("More relays: line 4: expected NAME URL [CERTIFICATE-SHA256]");
        await more.fill(listed);
        // A refusal every relay would repeat ends it: each relay is asked once, when measured.
        await page.getByLabel("Token").fill("not-the-relays-token-0123456789");
        await connect.click();
        await page
          .locator('[data-testid="badge"][data-phase="failed"]')
          .waitFor({ state: "attached", timeout: 30_000 });
        expect(await message.textContent()).toMatch(/^Connection failed: .*unauthorized/);
        for (const relay of fleet.relays)
          expect(
            sample(
              await metricsText(relay.address),
              'wiregate_relay_refusals_total{code="unauthorized"}',
            ),
          ).toBe(1);
        await page.getByLabel("Token").fill(TOKEN);
        await connectFleetPage(page, config);
        // Status: the relay in use, why, and what the page measured of all three.
        const first = await relayInUse(page);
        expect(first).toMatch(/^relay-[123]$/);
        expect(await page.getByTestId("relay-reason").textContent()).toMatch(
          /^shortest control-stream round trip: /,
        );
        const measured = await page
          .getByTestId("relay-measurements")
          .locator("li")
          .allTextContents();
        expect(measured).toHaveLength(3);
        for (const line of measured)
          expect(line).toMatch(/^relay-[123]: control-stream round trip [\d.]+ ms, connected in/);

        // A long ping; wireguard-go answers over the first relay.
        await openTab(page, "Tools");
        await page.getByLabel("Destination").fill("10.77.0.1");
        await page.getByLabel("Count").fill("2000");
        await page.getByLabel("Interval (ms)").fill("50");
        await page.getByRole("button", { name: "Start ping" }).click();
        const replies = page.locator('[data-testid="ping-log"] li.reply');
        await expect.poll(() => replies.count(), { timeout: 15_000 }).toBeGreaterThan(3);
        const before = await seenByUpstream();
        expect(before.latestHandshake).toBeGreaterThan(0);

        const killedRelay = fleet.byName(first!);
        killedRelay.child.kill("SIGKILL");
        const repliesAtKill = await replies.count();
        const second = await movedFrom(page, first!);
        // The ping goes on through the new relay.
        await expect
          .poll(() => replies.count(), { timeout: 15_000 })
          .toBeGreaterThan(repliesAtKill + 5);
        await page.getByRole("button", { name: "Stop", exact: true }).click();

        // wireguard-go: the same session, roamed to another relay's socket; no new handshake.
        const after = await seenByUpstream();
        expect(after.endpoint).not.toBe(before.endpoint);
        expect(after.latestHandshake).toBe(before.latestHandshake);

        // Status says where it went and why.
        await openTab(page, "Status");
        const move = await page.getByTestId("relay-move-list").locator("li").allTextContents();
        expect(move).toHaveLength(1);
        expect(move[0]).toContain(`${first} → ${second}`);
        expect(await page.getByTestId("relay-reason").textContent()).toMatch(
          new RegExp(`^the best of the rest after ${first} was lost \\(`),
        );

        // Idle this time: the upstream still follows at once, on the keepalive the page sends
        // after a move (its persistent keepalive would come only after 25 s).
        const idle = await seenByUpstream();
        const secondRelay = fleet.byName(second);
        secondRelay.child.kill("SIGKILL");
        await movedFrom(page, second);
        await expect
          .poll(async () => (await seenByUpstream()).endpoint, { timeout: 10_000 })
          .not.toBe(idle.endpoint);
        expect((await seenByUpstream()).latestHandshake).toBe(before.latestHandshake);

        // Firefox reports a killed relay's WebSocket as a page error ("The connection to wss://…
        // was interrupted while the page was loading."): that is the kill itself, nothing else is.
        const ports = [killedRelay, secondRelay].map((r) => r.address.port).join("|");
        const killed = new RegExp(
          `^pageerror: The connection to wss://127\\.0\\.0\\.1:(${ports})/.* was interrupted`,
        );
        expect(errors.filter((e) => e.startsWith("pageerror") && !killed.test(e))).toEqual([]);
      } finally {
        await context.close();
        fleet.stop();
      }
    },
  );
});
