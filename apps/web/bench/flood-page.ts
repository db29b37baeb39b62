/**
 * A page connected to the demo peer through a relay, and one flood from its Tools screen: what the
 * browser benches share.
 */
import type { Browser, Page } from "playwright-core";
import type { Closer } from "../../../test/helpers/closers.js";
import type { FloodResult } from "../src/protocol.js";
import {
  connectTunnel,
  DIST,
  newContext,
  open,
  openTab,
  pageUrl,
  type RunningRelay,
  startRelay,
} from "../test/stack.js";

export interface Upstream {
  name: string;
  host: string;
  port: number;
  publicKey?: string;
}

/**
 * A page from `dist` (default: this build) connected to the demo peer through a new relay with
 * HTTP/3 on (native) or off (WebSocket), on its Tools screen. `badge` is the expected transport.
 */
export async function connectedPage(options: {
  chromium: Browser;
  upstreams: Upstream[];
  demoPublicKey: string;
  http3: boolean;
  badge: string;
  dist?: string;
  /** The carriage the page asks for (default: the page's own default). */
  carriage?: "datagrams" | "stream" | "auto";
  closers: Closer[];
}): Promise<Page> {
  const relay: RunningRelay = await startRelay(
    options.upstreams,
    0,
    options.http3,
    false,
    options.dist ?? DIST,
  );
  options.closers.push(() => relay.stop());
  const page = await (await newContext(options.chromium)).newPage();
  await open(
    page,
    pageUrl(relay.address, {
      peer: options.demoPublicKey,
      ...(options.carriage ? { carriage: options.carriage } : {}),
    }),
  );
  await page.getByRole("button", { name: "Generate key pair" }).click();
  await connectTunnel(page, new RegExp(`^Connected · ${options.badge}`), 15_000);
  await openTab(page, "Tools");
  return page;
}

/** One flood of `seconds` from the page's Tools screen; its result. */
export async function flood(
  page: Page,
  mode: "tunnel" | "raw",
  seconds: number,
  payload: number,
): Promise<FloodResult> {
  await page.getByLabel("Mode").selectOption(mode);
  await page.getByLabel("Seconds").fill(String(seconds));
  await page.getByLabel("Datagram payload (bytes)").fill(String(payload));
  await page.getByRole("button", { name: "Run" }).click();
  const result = page.locator('[data-testid="flood-result"][data-result]');
  await result.waitFor({ state: "attached", timeout: seconds * 1000 + 15_000 });
  return JSON.parse((await result.getAttribute("data-result")) ?? "{}") as FloodResult;
}
