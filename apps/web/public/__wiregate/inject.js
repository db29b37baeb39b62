// Put into every HTML page a Browse origin shows (as the first script of its <head>), and loaded
// by the bridge page. It lets this origin's Service Worker get a new tunnel port through this
// window when the worker has lost its own (the browser stopped it): the port comes only from the
// Wiregate page, a window of one of the origins in /__wiregate/pages.json that is this window's
// parent or opener. `window.wiregateBrowse` is where other parts of the shim hook in.

(() => {
  if (window.wiregateBrowse) return;
  const page = window.parent !== window ? window.parent : window.opener;
  let origins;
  /** The page's origins; only the parent's when the browser says which it is. */
  const pageOrigins = () => {
    origins ??= fetch("/__wiregate/pages.json")
      .then((r) => r.json())
      .then((j) => (Array.isArray(j.pages) ? j.pages : []))
      .then((list) => {
        const parent = window.parent !== window ? location.ancestorOrigins?.[0] : undefined;
        return parent && list.includes(parent) ? [parent] : list;
      });
    return origins;
  };

  /** A port from the Wiregate page, with the target's own origin (rejects after 10 s). */
  function askPort() {
    return new Promise((resolve, reject) => {
      if (!page) {
        reject(new Error("no Wiregate page opened this one"));
        return;
      }
      // A tab whose Wiregate page was closed: nothing will answer (a message to a closed window
      // is dropped), so the worker need not wait the 10 s for it.
      if (page.closed) {
        reject(new Error("the Wiregate page that opened this one is closed"));
        return;
      }
      pageOrigins().then((list) => {
        const timer = setTimeout(() => {
          removeEventListener("message", onMessage);
          reject(new Error("the Wiregate page did not answer (is it still open?)"));
        }, 10_000);
        const onMessage = (event) => {
          if (event.source !== page || !list.includes(event.origin)) return;
          if (event.data?.type !== "wiregate-port" || !event.ports[0]) return;
          clearTimeout(timer);
          removeEventListener("message", onMessage);
          resolve({ port: event.ports[0], server: event.data.server });
        };
        addEventListener("message", onMessage);
        for (const origin of list) page.postMessage({ type: "wiregate-bridge" }, origin);
      }, reject);
    });
  }

  /** Hands a port to this origin's active Service Worker; resolves once it has taken it. */
  async function givePort({ port, server }) {
    const registration = await navigator.serviceWorker.ready;
    const taken = new MessageChannel();
    const done = new Promise((resolve) => (taken.port1.onmessage = () => resolve()));
    registration.active.postMessage({ type: "wiregate-port", server }, [port, taken.port2]);
    await done;
  }

  // document.cookie is the server's jar (in the tunnel worker) as a script may see it: read from
  // /__wiregate/cookies.js (the script before this one), kept up to date by the Service Worker;
  // writes go to the jar, so they reach the server. HttpOnly cookies are never here.
  let cookies = typeof window.wiregateCookies === "string" ? window.wiregateCookies : "";
  const cookieName = (pair) => pair.split("=")[0].trim();
  const setCookie = (value) => {
    const line = String(value);
    const [pair, ...attributes] = line.split(";");
    const name = cookieName(pair);
    if (!name && !pair.includes("=")) return;
    const expired = attributes.some((a) => {
      const [key, v = ""] = a.split("=").map((s) => s.trim());
      if (/^max-age$/i.test(key)) return Number(v) <= 0;
      if (/^expires$/i.test(key)) return Date.parse(v) <= Date.now();
      return false;
    });
    const kept = cookies ? cookies.split("; ").filter((c) => c && cookieName(c) !== name) : [];
    if (!expired) kept.push(pair.trim());
    cookies = kept.join("; ");
    navigator.serviceWorker?.controller?.postMessage({
      type: "wiregate-set-cookie",
      cookie: line,
      path: location.pathname,
    });
  };
  Object.defineProperty(document, "cookie", {
    configurable: true,
    get: () => cookies,
    set: setCookie,
  });

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data?.type === "wiregate-need-port")
        askPort()
          .then(givePort)
          // No Wiregate page to ask: the worker need not wait for this window.
          .catch(() =>
            navigator.serviceWorker.controller?.postMessage({ type: "wiregate-no-port" }),
          );
      else if (event.data?.type === "wiregate-cookies" && typeof event.data.value === "string")
        cookies = event.data.value;
    });
    navigator.serviceWorker.startMessages();
  }
  try {
    sessionStorage.removeItem(`wiregate-reloaded:${location.href}`);
  } catch {
    // No storage: the bridge cannot guard against reloading in a loop; nothing else needs it.
  }
  // The Wiregate page's address bar follows the shown page (links, redirects, forms).
  if (page && location.pathname !== "/__wiregate/bridge.html")
    pageOrigins().then((list) => {
      const path = location.pathname + location.search + location.hash;
      for (const origin of list) page.postMessage({ type: "wiregate-location", path }, origin);
    });
  /**
   * A port for a new WebSocket of this page to its own server (websocket.js): the Service Worker
   * hands it to the Wiregate page, which has the tunnel worker connect to this origin's target.
   */
  function openWebSocket(path, protocols) {
    const channel = new MessageChannel();
    const fail = (message) => {
      channel.port2.postMessage({ type: "error", message });
      channel.port2.postMessage({ type: "closed", code: 1006, reason: "", wasClean: false });
    };
    if (!("serviceWorker" in navigator)) fail("this page has no Service Worker");
    else
      navigator.serviceWorker.ready.then(
        (registration) =>
          registration.active.postMessage({ type: "wiregate-websocket", path, protocols }, [
            channel.port2,
          ]),
        (e) => fail(`no Service Worker: ${e}`),
      );
    return channel.port1;
  }

  window.wiregateBrowse = { askPort, givePort, pageOrigins, openWebSocket };
})();
