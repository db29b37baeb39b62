/** Tools: a UDP port inside the tunnel that counts what arrives (sizes, sender), to see traffic
 * sent toward the page from behind the WireGuard peer. */
import type { TunnelClient } from "../client.js";
import { field, h, replace } from "../dom.js";
import type { UdpListenStatus } from "../protocol.js";

export function udpListenSection(client: TunnelClient): HTMLElement {
  const port = h("input", { type: "number", value: "5000", min: "1", max: "65535" });
  const listen = h("button", { type: "submit" }, "Listen");
  const stop = h(
    "button",
    {
      type: "button",
      disabled: true,
      onclick: () => {
        client.send({ type: "udp-close" });
        listen.disabled = false;
        stop.disabled = true;
      },
    },
    "Stop listening",
  );
  const status = h("dl", { class: "facts", "data-testid": "udp-status", "aria-live": "polite" });
  const show = (s: UdpListenStatus) => {
    const sizes = Object.entries(s.sizes)
      .map(([size, count]) => `${count} × ${size} B`)
      .join(", ");
    replace(
      status,
      h("dt", {}, "Port"),
      h("dd", {}, String(s.port)),
      h("dt", {}, "Datagrams"),
      h("dd", { "data-testid": "udp-datagrams" }, String(s.datagrams)),
      h("dt", {}, "Dropped (read too slowly)"),
      h("dd", {}, String(s.dropped)),
      h("dt", {}, "Payload bytes"),
      h("dd", {}, String(s.bytes)),
      h("dt", {}, "Sizes"),
      h("dd", {}, sizes || "–"),
      h("dt", {}, "Last sender"),
      h("dd", {}, s.from ?? "–"),
    );
    status.dataset.status = JSON.stringify(s);
  };
  client.on((m) => {
    if (m.type === "udp-status") show(m.status);
    else if (m.type === "error" && m.message.startsWith("UDP listener")) {
      replace(status, h("dd", {}, m.message));
      listen.disabled = false;
      stop.disabled = true;
    }
  });
  return h(
    "form",
    {
      class: "stack",
      onsubmit: (event: Event) => {
        event.preventDefault();
        listen.disabled = true;
        stop.disabled = false;
        client.send({ type: "udp-listen", port: Number(port.value) || 5000 });
      },
    },
    h(
      "fieldset",
      {},
      h("legend", {}, "UDP listener inside the tunnel"),
      field("UDP port", port, "Datagrams to this port at the tunnel's addresses are counted here"),
      h("div", { class: "row" }, listen, stop),
      status,
    ),
  );
}
