/**
 * The tunnel worker: owns the WireGuard device (noble, with libsodium's WebAssembly for the
 * per-packet AEAD when it loads; see tunnel-crypto.ts) and the relay session, so the page
 * never waits on crypto or on the network. This file puts it together: the worker's clocks and
 * randomness, the tunnel (tunnel.ts), the Tools screen's runs (tunnel-tools.ts), and the page's
 * messages to them. Clocks: performance.now() for the engine; the wall clock (µs resolution) for
 * TAI64N timestamps; randomness: crypto.getRandomValues, through a pool.
 */
import { pooledRandom } from "@wiregate/core";
import { GOING_AWAY } from "@wiregate/relay-protocol";
import { indexedDbJars } from "./browse/cookie-store.js";
import { BrowseCookies } from "./browse/cookies.js";
import { browseExchange } from "./browse/exchange.js";
import type { FromWorker, ToWorker } from "./protocol.js";
import { relaySessions } from "./relay-sessions.js";
import { Tunnel } from "./tunnel.js";
import { loadTunnelCrypto } from "./tunnel-crypto.js";
import { TunnelTools } from "./tunnel-tools.js";

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (message: FromWorker) => scope.postMessage(message);

const now = () => performance.now();
/** One getRandomValues call per 4 KiB: the device asks for 2 bytes of jitter per packet. */
const random = pooledRandom((bytes) => crypto.getRandomValues(bytes));
const wallClock = () =>
  BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;

relaySessions.watch((beacons) => post({ type: "close-beacons", beacons }));

const tunnel = new Tunnel({
  post,
  now,
  random,
  wallClock,
  // Loading starts with the worker; the first connect waits for it (the device is built with it).
  crypto: loadTunnelCrypto(),
  packet: (data) => tools.packet(data),
  deviceReplaced: () => tools.udpClose(),
  stopping: () => tools.stop(),
});
const tools = new TunnelTools({ tunnel, post, now, random });
/**
 * Browse's cookie jars (one per target), kept across reconnects and, in the Wiregate origin's
 * IndexedDB, across reloads of the page; replaced by the page's first message, which names the
 * browser session its session cookies belong to.
 */
let cookies = new BrowseCookies({ store: indexedDbJars() });

scope.addEventListener("message", (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case "browse-session":
      cookies = new BrowseCookies({ store: indexedDbJars(), session: message.id });
      break;
    case "connect":
      tunnel.connect(message.settings);
      break;
    case "disconnect":
      tunnel.disconnect();
      break;
    case "page-hidden":
      // First, before anything else can delay it: the worker may be ended soon after.
      relaySessions.closeAll(GOING_AWAY);
      tunnel.pageHidden();
      break;
    case "page-shown":
      relaySessions.back();
      tunnel.pageShown();
      break;
    case "token":
      tunnel.useToken(message.token);
      break;
    case "handshake":
      tunnel.handshake();
      break;
    case "ping":
      tools.ping(message.request);
      break;
    case "ping-stop":
      tools.stopPing();
      break;
    case "flood":
      void tools.flood(message.request);
      break;
    case "udp-listen":
      tools.udpListen(message.port);
      break;
    case "udp-close":
      tools.udpClose();
      break;
    case "browse-http":
      if (tunnel.tcp)
        void browseExchange(
          tunnel.tcp,
          cookies,
          message.context,
          message.request,
          message.port,
          navigator.userAgent,
        );
      else message.port.postMessage({ type: "error", message: "not connected" });
      break;
    case "browse-cookies":
      void cookies
        .forScript(message.context.target, message.path)
        .then((value) => message.port.postMessage(value));
      break;
    case "browse-set-cookie":
      void cookies.fromScript(message.context.target, message.path, message.cookie);
      break;
    case "websocket":
      if (tunnel.tcp) {
        const { request, port } = message;
        const tcp = tunnel.tcp;
        // The handshake carries the target's cookies from its jar (HttpOnly ones too).
        void cookies
          .header({ host: request.host, port: request.port }, request.path, "strict")
          .then((cookie) => {
            const headers = Object.fromEntries(
              Object.entries(request.headers).filter(([name]) => name.toLowerCase() !== "cookie"),
            );
            if (cookie) headers.cookie = cookie;
            return tcp.websocket({ ...request, headers }, port);
          });
      } else {
        message.port.postMessage({ type: "error", message: "not connected" });
        message.port.postMessage({ type: "closed", code: 1006, reason: "", wasClean: false });
      }
      break;
    case "resolve":
      if (tunnel.tcp) void tunnel.tcp.resolve(message.name, message.channel);
      else message.channel.postMessage({ type: "error", message: "not connected" });
      break;
    case "tcp-open":
      if (tunnel.tcp) void tunnel.tcp.console(message.host, message.port, message.channel);
      else message.channel.postMessage({ type: "error", message: "not connected" });
      break;
  }
});
