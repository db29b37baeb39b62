// The WebSocket of a page shown from inside the tunnel. A Service Worker never sees a WebSocket,
// so this replaces the page's `WebSocket` with one whose connection is made by the Wiregate tunnel
// worker (src/browse/websocket-connection.ts): the handshake and the frames travel over TCP inside
// WireGuard, and this side talks to it over a MessagePort. Only WebSockets to the page's own host
// go through the tunnel (that host *is* the server inside the tunnel); others are the browser's.
// What cannot work: `wss://` to the page's own host (no TLS inside the tunnel: the server is
// reached as ws://), and extensions (permessage-deflate is not offered; `extensions` is "").
// Plain JavaScript on purpose: served as is to the shown page, with no build step.

/**
 * The WebSocket class over `openPort(path, protocols)`, which returns the MessagePort of a new
 * connection to the page's own server. Events and errors as the WHATWG WebSockets standard says.
 */
function wiregateWebSocketClass(openPort, NativeWebSocket, location) {
  const CONNECTING = 0;
  const OPEN = 1;
  const CLOSING = 2;
  const CLOSED = 3;
  const encoder = new TextEncoder();
  const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

  class WebSocket extends EventTarget {
    #readyState = CONNECTING;
    #bufferedAmount = 0;
    #protocol = "";
    #binaryType = "blob";
    #url;
    #port = null;
    /** Sends wait for earlier ones (a Blob is read first), so their order is kept. */
    #sending = Promise.resolve();

    constructor(url, protocols = []) {
      super();
      let parsed;
      try {
        parsed = new URL(String(url), location.href);
      } catch {
        throw new DOMException(`The URL '${url}' is invalid.`, "SyntaxError");
      }
      if (parsed.protocol === "http:") parsed.protocol = "ws:";
      else if (parsed.protocol === "https:") parsed.protocol = "wss:";
      if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
        throw new DOMException(
          `The URL's scheme must be ws or wss, not '${parsed.protocol}'.`,
          "SyntaxError",
        );
      }
      if (parsed.hash) {
        throw new DOMException("The URL contains a fragment identifier.", "SyntaxError");
      }
      const list = typeof protocols === "string" ? [protocols] : [...protocols].map(String);
      if (new Set(list).size !== list.length || list.some((p) => !TOKEN.test(p))) {
        throw new DOMException("The subprotocols are invalid or repeated.", "SyntaxError");
      }
      this.#url = parsed.href;
      const ours = parsed.host === location.host;
      if (!ours && NativeWebSocket) {
        // Not the server inside the tunnel: the browser's own WebSocket, as the page would have.
        // biome-ignore lint/correctness/noConstructorReturn: the native object stands in for this
        return new NativeWebSocket(parsed.href, list);
      }
      if (parsed.protocol === "wss:" || !ours) {
        const why =
          parsed.protocol === "wss:"
            ? "wss:// cannot work through the Wiregate tunnel (no TLS inside it): the server is reached with ws://"
            : "only the page's own server is reached through the Wiregate tunnel";
        console.error(`WebSocket to ${parsed.href}: ${why}.`);
        queueMicrotask(() => this.#closed(1006, "", false, true));
        return;
      }
      this.#port = openPort(parsed.pathname + parsed.search, list);
      this.#port.onmessage = ({ data }) => this.#fromWorker(data);
    }

    #fromWorker(data) {
      if (this.#readyState === CLOSED) return;
      switch (data?.type) {
        case "open":
          if (this.#readyState !== CONNECTING) return;
          this.#readyState = OPEN;
          this.#protocol = data.protocol;
          this.dispatchEvent(new Event("open"));
          break;
        case "message": {
          if (this.#readyState !== OPEN) return;
          let payload = data.data;
          if (typeof payload !== "string" && this.#binaryType === "blob")
            payload = new Blob([payload]);
          this.dispatchEvent(
            new MessageEvent("message", { data: payload, origin: new URL(this.#url).origin }),
          );
          break;
        }
        case "sent":
          this.#bufferedAmount = Math.max(0, this.#bufferedAmount - data.bytes);
          break;
        case "error":
          console.error(`WebSocket to ${this.#url}: ${data.message}`);
          this.#closed(1006, "", false, true);
          break;
        case "closed":
          this.#closed(data.code, data.reason, data.wasClean, !data.wasClean);
          break;
      }
    }

    #closed(code, reason, wasClean, error) {
      if (this.#readyState === CLOSED) return;
      this.#readyState = CLOSED;
      if (this.#port) this.#port.onmessage = null;
      if (error) this.dispatchEvent(new Event("error"));
      this.dispatchEvent(new CloseEvent("close", { code, reason, wasClean }));
    }

    send(data) {
      if (this.#readyState === CONNECTING) {
        throw new DOMException("Still in CONNECTING state.", "InvalidStateError");
      }
      let size;
      let bytes;
      if (
        typeof data === "string" ||
        data === null ||
        data === undefined ||
        typeof data === "number"
      ) {
        data = String(data);
        size = encoder.encode(data).length;
        bytes = Promise.resolve(data);
      } else if (Object.prototype.toString.call(data) === "[object ArrayBuffer]") {
        // (Also an ArrayBuffer of another realm, e.g. a frame's.)
        size = data.byteLength;
        bytes = Promise.resolve(data.slice(0));
      } else if (ArrayBuffer.isView(data)) {
        size = data.byteLength;
        bytes = Promise.resolve(
          data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
        );
      } else if (data instanceof Blob) {
        size = data.size;
        bytes = data.arrayBuffer();
      } else {
        data = String(data);
        size = encoder.encode(data).length;
        bytes = Promise.resolve(data);
      }
      // Once closing, data is only counted (as the standard says), never sent.
      this.#bufferedAmount += size;
      if (this.#readyState !== OPEN) return;
      const port = this.#port;
      this.#sending = this.#sending
        .then(() => bytes)
        .then((payload) => {
          if (typeof payload === "string") port.postMessage({ type: "send", data: payload });
          else port.postMessage({ type: "send", data: payload }, [payload]);
        });
    }

    close(code, reason) {
      if (code !== undefined) {
        code = Number(code);
        if (code !== 1000 && !(code >= 3000 && code <= 4999)) {
          throw new DOMException(
            `The close code must be 1000 or 3000-4999, not ${code}.`,
            "InvalidAccessError",
          );
        }
      }
      if (reason !== undefined && encoder.encode(String(reason)).length > 123) {
        throw new DOMException(
          "The close reason must be at most 123 bytes of UTF-8.",
          "SyntaxError",
        );
      }
      if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
      if (this.#readyState === CONNECTING) {
        // Fails the connection: the worker drops it; the page gets error and close (1006).
        this.#port?.postMessage({ type: "close" });
        this.#readyState = CLOSING;
        queueMicrotask(() => this.#closed(1006, "", false, true));
        return;
      }
      this.#readyState = CLOSING;
      const port = this.#port;
      const message = { type: "close" };
      if (code !== undefined) message.code = code;
      if (reason !== undefined) message.reason = String(reason);
      // After the sends before it.
      this.#sending = this.#sending.then(() => port.postMessage(message));
    }

    get url() {
      return this.#url;
    }
    get readyState() {
      return this.#readyState;
    }
    get bufferedAmount() {
      return this.#bufferedAmount;
    }
    get extensions() {
      return "";
    }
    get protocol() {
      return this.#protocol;
    }
    get binaryType() {
      return this.#binaryType;
    }
    set binaryType(value) {
      if (value === "blob" || value === "arraybuffer") this.#binaryType = value;
    }
  }

  // The handlers (attribute event listeners) are kept per object, outside the private fields.
  const handlers = new WeakMap();
  for (const type of ["open", "message", "error", "close"]) {
    Object.defineProperty(WebSocket.prototype, `on${type}`, {
      get() {
        return handlers.get(this)?.[type]?.fn ?? null;
      },
      set(fn) {
        const all = handlers.get(this) ?? {};
        handlers.set(this, all);
        const old = all[type];
        if (old) this.removeEventListener(type, old.listener);
        if (typeof fn !== "function") {
          delete all[type];
          return;
        }
        const listener = (event) => fn.call(this, event);
        all[type] = { fn, listener };
        this.addEventListener(type, listener);
      },
      configurable: true,
      enumerable: true,
    });
  }
  for (const [name, value] of Object.entries({ CONNECTING, OPEN, CLOSING, CLOSED })) {
    Object.defineProperty(WebSocket, name, { value, enumerable: true });
    Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
  }
  return WebSocket;
}

// In a shown page (the Browse bridge's inject.js ran first and gives the tunnel's ports), the
// page's WebSocket becomes the tunnel's.
if (typeof window !== "undefined" && window.wiregateBrowse?.openWebSocket) {
  window.WebSocket = wiregateWebSocketClass(
    window.wiregateBrowse.openWebSocket,
    window.WebSocket,
    window.location,
  );
}
