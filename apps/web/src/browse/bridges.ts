/**
 * The Wiregate page's side of the Browse bridges. For each Browse origin shown, a hidden frame
 * loads the origin's bridge (`/__wiregate/bridge.html`, served by the relay), which registers the
 * origin's Service Worker; the page hands it a MessagePort on which that worker sends requests.
 * The page fixes the target of every request from the origin the port was given to: a Browse
 * origin reaches its own server inside the tunnel and nothing else. Ports are given only to
 * windows this page made or opened (its bridge frames, the Browse frame, tabs it opened), and only
 * for the origin they are on.
 */
import type { TunnelClient } from "../client.js";
import type { BrowseContext, BrowseRequest } from "./messages.js";
import {
  browseOrigin,
  type OriginBase,
  type Target,
  targetOfOrigin,
  targetOrigin,
} from "./target.js";

/** What the Service Worker sends on its port. */
type FromServiceWorker =
  | { type: "request"; id: number; request: BrowseRequest }
  | { type: "cookies"; path: string }
  | { type: "set-cookie"; path: string; cookie: string }
  /** A WebSocket of a page of the origin (public/__wiregate/websocket.js); its port comes along. */
  | {
      type: "websocket";
      request: { path: string; protocols: string[]; headers: [string, string][] };
    };

export class BrowseBridges {
  readonly #frames = new Map<string, { frame: HTMLIFrameElement; ready: Promise<void> }>();
  readonly #readyWaiters = new Map<string, { resolve(): void; reject(e: Error): void }>();
  /** Windows that may ask for a port: the Browse frame(s) and tabs this page opened. */
  readonly #windows = new Set<() => Window | null>();

  constructor(
    private readonly client: TunnelClient,
    readonly base: OriginBase,
    private readonly container: HTMLElement,
  ) {
    window.addEventListener("message", (event) => this.#onMessage(event));
  }

  /** The origin a target is shown on. */
  origin(target: Target): string {
    return browseOrigin(this.base, target);
  }

  /**
   * Lets `window()` (a frame's or a tab's window) ask for ports for the origin it shows. Tabs
   * closed since are forgotten: a reference to a closed window of the page's own site keeps that
   * window's whole JavaScript heap alive (measured: about 3.7 MB per Jupyter tab opened and closed).
   */
  allow(window: () => Window | null): void {
    for (const known of this.#windows) if (known()?.closed) this.#windows.delete(known);
    this.#windows.add(window);
  }

  /** Starts the bridge of `target`'s origin (once); resolves when its Service Worker has a port. */
  ready(target: Target): Promise<void> {
    const origin = this.origin(target);
    const known = this.#frames.get(origin);
    if (known) return known.ready;
    const frame = document.createElement("iframe");
    frame.hidden = true;
    frame.title = `Browse bridge for ${targetOrigin(target)}`;
    frame.dataset.testid = "browse-bridge";
    const ready = new Promise<void>((resolve, reject) =>
      this.#readyWaiters.set(origin, { resolve, reject }),
    );
    frame.src = `${origin}/__wiregate/bridge.html`;
    this.container.append(frame);
    this.#frames.set(origin, { frame, ready });
    return ready;
  }

  #known(source: MessageEventSource | null): boolean {
    if (!source) return false;
    for (const { frame } of this.#frames.values()) if (frame.contentWindow === source) return true;
    for (const window of this.#windows) if (window() === source) return true;
    return false;
  }

  #onMessage(event: MessageEvent): void {
    const type = (event.data as { type?: unknown } | null)?.type;
    if (
      type !== "wiregate-bridge" &&
      type !== "wiregate-bridge-ready" &&
      type !== "wiregate-bridge-failed"
    )
      return;
    const target = targetOfOrigin(this.base, event.origin);
    if (!target || !this.#known(event.source)) return;
    const waiter = this.#readyWaiters.get(event.origin);
    if (type === "wiregate-bridge-ready" || type === "wiregate-bridge-failed") {
      this.#readyWaiters.delete(event.origin);
      if (type === "wiregate-bridge-ready") waiter?.resolve();
      else {
        // Forget the bridge: the next attempt starts a new one.
        this.#frames.get(event.origin)?.frame.remove();
        this.#frames.delete(event.origin);
        const message = String((event.data as { message?: unknown }).message).slice(0, 300);
        waiter?.reject(new Error(message));
      }
      return;
    }
    const channel = new MessageChannel();
    channel.port1.onmessage = (m: MessageEvent<FromServiceWorker>) =>
      this.#request(target, channel.port1, m);
    (event.source as Window).postMessage(
      { type: "wiregate-port", server: targetOrigin(target) },
      event.origin,
      [channel.port2],
    );
  }

  /** One message of a Browse origin's Service Worker: to the tunnel worker, for its target only. */
  #request(target: Target, port: MessagePort, event: MessageEvent<FromServiceWorker>): void {
    const data = event.data;
    const context: BrowseContext = { target, base: this.base };
    const answer = event.ports[0];
    if (data?.type === "websocket") {
      if (answer) this.#websocket(target, data.request, answer);
      return;
    }
    if (data?.type === "set-cookie") {
      if (typeof data.path === "string" && typeof data.cookie === "string")
        this.client.send({
          type: "browse-set-cookie",
          context,
          path: data.path,
          cookie: data.cookie.slice(0, 4096),
        });
      return;
    }
    if (!answer) return;
    if (data?.type === "cookies" && typeof data.path === "string") {
      this.client.send({ type: "browse-cookies", context, path: data.path, port: answer }, [
        answer,
      ]);
      return;
    }
    if (data?.type !== "request" || typeof data.request?.path !== "string") return;
    port.postMessage({ type: "accepted", id: data.id });
    const { method, path, headers, referrer, mode, destination, body } = data.request;
    const request: BrowseRequest = {
      method: String(method),
      path,
      headers: Array.isArray(headers) ? headers : [],
      ...(typeof referrer === "string" ? { referrer } : {}),
      ...(typeof mode === "string" ? { mode } : {}),
      ...(typeof destination === "string" ? { destination } : {}),
      ...(body instanceof Blob ? { body } : {}),
    };
    // The body is a Blob: it goes on by reference, its bytes stay in the browser's blob store.
    this.client.send({ type: "browse-http", context, request, port: answer }, [answer]);
  }

  /**
   * A WebSocket of the origin's pages: the tunnel worker connects to this origin's target (never
   * another), with the Origin its server expects (the target's own) and the page's headers.
   */
  #websocket(
    target: Target,
    request: { path?: unknown; protocols?: unknown; headers?: unknown },
    port: MessagePort,
  ): void {
    const path = typeof request?.path === "string" ? request.path : "";
    const protocols = Array.isArray(request?.protocols) ? request.protocols.map(String) : [];
    if (!path.startsWith("/") || path.length > 8192 || protocols.length > 32) {
      port.postMessage({ type: "error", message: "a WebSocket request the page cannot send" });
      port.postMessage({ type: "closed", code: 1006, reason: "", wasClean: false });
      return;
    }
    const headers: Record<string, string> = {};
    if (Array.isArray(request.headers))
      for (const [name, value] of request.headers as [string, string][])
        if (typeof name === "string" && typeof value === "string") headers[name] = value;
    this.client.send(
      {
        type: "websocket",
        request: {
          host: target.host,
          port: target.port,
          path,
          origin: targetOrigin(target),
          protocols,
          headers,
        },
        port,
      },
      [port],
    );
  }
}
