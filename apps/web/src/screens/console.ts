/**
 * TCP console: a TCP connection to any host:port inside the tunnel, line by line. The host may be
 * a name: the tunnel worker resolves it through the tunnel's DNS.
 */
import type { TunnelClient } from "../client.js";
import { h } from "../dom.js";
import type { TcpPortMessage } from "../protocol.js";

export function consoleScreen(client: TunnelClient): HTMLElement {
  const host = h("input", { type: "text", value: "10.99.0.1", "aria-label": "Host" });
  const port = h("input", {
    type: "number",
    value: "80",
    min: "1",
    max: "65535",
    "aria-label": "Port",
  });
  const output = h("pre", {
    class: "console",
    "data-testid": "console-output",
    "aria-live": "polite",
  });
  const line = h("input", { type: "text", "aria-label": "Line to send", disabled: true });
  const state = h("p", { "data-testid": "console-state" }, "Not connected.");
  let channel: MessagePort | undefined;
  const decoder = new TextDecoder();
  const print = (text: string) => {
    output.textContent += text;
    output.scrollTop = output.scrollHeight;
  };
  const open = (event: Event) => {
    event.preventDefault();
    channel?.postMessage({ type: "close" } satisfies TcpPortMessage);
    const { port1, port2 } = new MessageChannel();
    channel = port1;
    output.textContent = "";
    state.textContent = `Connecting to ${host.value}:${port.value}…`;
    port1.onmessage = ({ data }: MessageEvent<TcpPortMessage>) => {
      if (data.type === "open") {
        state.textContent = `Connected from ${data.local}${data.remote ? ` to ${data.remote}` : ""}.`;
        line.disabled = false;
        line.focus();
      } else if (data.type === "data") print(decoder.decode(data.data, { stream: true }));
      else if (data.type === "end") state.textContent = "The peer closed its side.";
      else if (data.type === "closed") {
        state.textContent = "Closed.";
        line.disabled = true;
      } else if (data.type === "error") {
        state.textContent = data.message;
        line.disabled = true;
      }
    };
    client.send(
      { type: "tcp-open", host: host.value.trim(), port: Number(port.value), channel: port2 },
      [port2],
    );
  };
  const send = (event: Event) => {
    event.preventDefault();
    const data = new TextEncoder().encode(`${line.value}\r\n`);
    channel?.postMessage({ type: "send", data } satisfies TcpPortMessage);
    print(`${line.value}\n`);
    line.value = "";
  };
  const close = () => channel?.postMessage({ type: "close" } satisfies TcpPortMessage);
  return h(
    "section",
    { class: "stack" },
    h(
      "form",
      { class: "row", onsubmit: open },
      host,
      port,
      h("button", { type: "submit", class: "primary" }, "Connect"),
      h("button", { type: "button", onclick: close }, "Close"),
    ),
    state,
    output,
    h("form", { class: "row", onsubmit: send }, line, h("button", { type: "submit" }, "Send")),
  );
}
