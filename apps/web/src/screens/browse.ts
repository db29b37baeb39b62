/**
 * Browse: web pages that exist only inside the tunnel, shown in a sandboxed frame. A Service
 * Worker (public/browse-sw.js) answers the frame's requests by sending HTTP/1.1 over netstack
 * TCP in the tunnel worker.
 */
import type { TunnelClient } from "../client.js";
import { h, replace } from "../dom.js";
import type { TunnelHttpRequest } from "../protocol.js";

/** Lets the Service Worker's requests reach the tunnel worker (once per page). */
export function relayServiceWorkerRequests(client: TunnelClient): Promise<true | string> {
  if (!("serviceWorker" in navigator)) {
    return Promise.resolve("this browser gives the page no Service Worker (is it https?)");
  }
  navigator.serviceWorker.addEventListener("message", (event: MessageEvent) => {
    const data = event.data as { type?: string; request?: TunnelHttpRequest };
    const port = event.ports[0];
    if (data?.type !== "wiregate-http" || !data.request || !port) return;
    client.send({ type: "http", request: data.request, port }, [port]);
  });
  return navigator.serviceWorker
    .register("./browse-sw.js", { scope: "./browse/" })
    .then(activated)
    .then(
      () => true as const,
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
}

/** Resolves once the worker is active (`navigator.serviceWorker.ready` is for the page's own scope). */
function activated(registration: ServiceWorkerRegistration): Promise<void> {
  const worker = registration.installing ?? registration.waiting ?? registration.active;
  if (!worker || worker.state === "activated") return Promise.resolve();
  return new Promise((resolve) => {
    worker.addEventListener("statechange", () => {
      if (worker.state === "activated") resolve();
    });
  });
}

/** "http://10.99.0.1:8080/x?y" → "./browse/10.99.0.1:8080/x?y", or an explanation. */
export function framePath(input: string): { path: string } | { error: string } {
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(input) ? input : `http://${input}`);
  } catch {
    return { error: `'${input}' is not a URL` };
  }
  if (url.protocol === "https:") {
    return {
      error:
        "HTTPS inside the tunnel cannot work here: the browser would need to trust the private server's certificate, and a page cannot open TLS over our TCP. Use http://.",
    };
  }
  if (url.protocol !== "http:") return { error: `only http:// addresses, not ${url.protocol}` };
  if (!/^(\[[0-9a-f:.]+\]|[0-9.]+)$/i.test(url.hostname)) {
    return { error: "use an IP address inside the tunnel: names are not resolved through it" };
  }
  return { path: `./browse/${url.host}${url.pathname}${url.search}` };
}

export function browseScreen(ready: Promise<true | string>, defaultUrl: string): HTMLElement {
  const address = h("input", {
    type: "text",
    value: defaultUrl,
    "aria-label": "Web address inside the tunnel",
    autocomplete: "off",
  });
  const message = h("p", { class: "note", "data-testid": "browse-message", "aria-live": "polite" });
  const frame = h("iframe", {
    title: "Page inside the tunnel",
    "data-testid": "browse-frame",
    // No scripts: a page from inside the tunnel must not reach this page or the tunnel.
    sandbox: "allow-same-origin allow-forms",
    class: "browse-frame",
  }) as HTMLIFrameElement;
  const go = async (event: Event) => {
    event.preventDefault();
    const target = framePath(address.value.trim());
    if ("error" in target) {
      replace(message, target.error);
      return;
    }
    if (!(await ready)) {
      replace(
        message,
        "This browser gives the page no Service Worker, so Browse cannot work here.",
      );
      return;
    }
    replace(message);
    frame.src = target.path;
  };
  return h(
    "section",
    { class: "stack" },
    h(
      "form",
      { class: "row", onsubmit: go },
      address,
      h("button", { type: "submit", class: "primary" }, "Go"),
    ),
    message,
    frame,
    h(
      "details",
      { open: true },
      h("summary", {}, "What cannot work"),
      h(
        "ul",
        {},
        h("li", {}, "HTTPS inside the tunnel (the browser cannot do TLS over our TCP)."),
        h("li", {}, "Links and resources on other origins: they leave the tunnel, or fail."),
        h(
          "li",
          {},
          "Links to absolute paths (/x) open outside the frame's tunnel address; resources at absolute paths do load.",
        ),
        h("li", {}, "Scripts of the shown page: the frame is sandboxed."),
        h("li", {}, "Host names: type the IP address inside the tunnel."),
      ),
    ),
  );
}
