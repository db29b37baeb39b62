/** Tools: ping inside the tunnel (ICMP or ICMPv6 echo, built and timed in the worker). */
import type { TunnelClient } from "../client.js";
import { field, h, replace } from "../dom.js";
import type { FloodResult, PingSummary } from "../protocol.js";
import { resolveSection } from "./resolve.js";
import { udpListenSection } from "./udp-listen.js";

const ms = (n: number | undefined) => (n === undefined ? "–" : `${n.toFixed(2)} ms`);

export function toolsScreen(client: TunnelClient, defaultTarget: string): HTMLElement {
  const target = h("input", { type: "text", value: defaultTarget, autocomplete: "off" });
  const count = h("input", { type: "number", value: "5", min: "1", max: "10000" });
  const interval = h("input", { type: "number", value: "1000", min: "10", max: "60000" });
  const size = h("input", { type: "number", value: "56", min: "0", max: "9000" });
  const start = h("button", { type: "submit", class: "primary" }, "Start ping");
  const stop = h(
    "button",
    { type: "button", disabled: true, onclick: () => client.send({ type: "ping-stop" }) },
    "Stop",
  );
  const log = h("ol", { class: "ping-log", "data-testid": "ping-log", "aria-label": "Replies" });
  const summary = h("dl", { class: "facts", "data-testid": "ping-summary", "aria-live": "polite" });

  const showSummary = (s: PingSummary) => {
    replace(
      summary,
      h("dt", {}, "Transmitted"),
      h("dd", { "data-testid": "transmitted" }, String(s.transmitted)),
      h("dt", {}, "Received"),
      h("dd", { "data-testid": "received" }, String(s.received)),
      h("dt", {}, "Loss"),
      h("dd", { "data-testid": "loss" }, `${s.lossPercent.toFixed(1)} %`),
      h("dt", {}, "RTT min / avg / max"),
      h("dd", { "data-testid": "rtt" }, `${ms(s.min)} / ${ms(s.avg)} / ${ms(s.max)}`),
    );
  };

  client.on((m) => {
    if (m.type === "ping-reply") {
      const r = m.reply;
      log.append(
        h(
          "li",
          { class: "reply" },
          `${r.bytes} bytes from ${r.from}: seq=${r.sequence} time=${ms(r.rttMs)}`,
        ),
      );
      log.scrollTop = log.scrollHeight;
    } else if (m.type === "ping-lost") {
      log.append(h("li", { class: "lost" }, `seq=${m.sequence} no reply`));
    } else if (m.type === "ping-done") {
      showSummary(m.summary);
      start.disabled = false;
      stop.disabled = true;
      summary.dataset.done = "true";
    } else if (m.type === "error" && stop.disabled === false) {
      log.append(h("li", { class: "lost" }, m.message));
    }
  });

  const form = h(
    "form",
    {
      class: "stack",
      onsubmit: (event: Event) => {
        event.preventDefault();
        replace(log);
        replace(summary);
        delete summary.dataset.done;
        start.disabled = true;
        stop.disabled = false;
        client.send({
          type: "ping",
          request: {
            destination: target.value.trim(),
            count: Math.max(1, Number(count.value) || 1),
            intervalMs: Math.max(10, Number(interval.value) || 1000),
            size: Math.max(0, Number(size.value) || 0),
          },
        });
      },
    },
    h(
      "fieldset",
      {},
      h("legend", {}, "Ping inside the tunnel"),
      field(
        "Destination",
        target,
        "An address inside the tunnel (IPv4 or IPv6), or a name (resolved through the tunnel's DNS)",
      ),
      h(
        "div",
        { class: "row" },
        field("Count", count),
        field("Interval (ms)", interval),
        field("Payload (bytes)", size),
      ),
      h("div", { class: "row" }, start, stop),
    ),
  );

  return h(
    "section",
    { "aria-labelledby": "tools-title" },
    h("h2", { id: "tools-title" }, "Tools"),
    form,
    summary,
    log,
    resolveSection(client, "demo.wiregate"),
    throughput(client, defaultTarget),
    udpListenSection(client),
  );
}

/**
 * Throughput: a UDP echo flood inside the tunnel (the demo peer echoes on port 7), or the same
 * datagrams without WireGuard to a relay upstream that echoes raw UDP — to see what the tunnel
 * costs on this transport.
 */
function throughput(client: TunnelClient, defaultTarget: string): HTMLElement {
  const mode = h(
    "select",
    {},
    h("option", { value: "tunnel" }, "Tunnel (UDP echo in WireGuard)"),
    h("option", { value: "raw" }, "Raw transport (echo upstream)"),
  );
  const target = h("input", { type: "text", value: defaultTarget, autocomplete: "off" });
  const port = h("input", { type: "number", value: "7", min: "1", max: "65535" });
  const upstream = h("input", { type: "text", value: "echo", autocomplete: "off" });
  const seconds = h("input", { type: "number", value: "5", min: "1", max: "60" });
  const payload = h("input", { type: "number", value: "1200", min: "1", max: "1400" });
  const run = h("button", { type: "submit" }, "Run");
  const result = h("p", { "data-testid": "flood-result", "aria-live": "polite" });
  const show = (r: FloodResult) => {
    result.textContent = `${r.mode}: ${r.received} of ${r.sent} datagrams echoed in ${r.seconds.toFixed(1)} s (${r.lost} lost) — ${r.datagramsPerSecond.toFixed(0)} datagrams/s, ${r.megabitsPerSecond.toFixed(1)} Mbit/s of payload each way (${r.datagramBytes}-byte datagrams)`;
    result.dataset.result = JSON.stringify(r);
    run.disabled = false;
  };
  client.on((m) => {
    if (m.type === "flood-done") show(m.result);
    else if (m.type === "error" && run.disabled) {
      result.textContent = m.message;
      run.disabled = false;
    }
  });
  return h(
    "form",
    {
      class: "stack",
      onsubmit: (event: Event) => {
        event.preventDefault();
        run.disabled = true;
        delete result.dataset.result;
        result.textContent = "Running…";
        client.send({
          type: "flood",
          request: {
            mode: mode.value === "raw" ? "raw" : "tunnel",
            upstream: upstream.value.trim(),
            destination: target.value.trim(),
            port: Number(port.value) || 7,
            payload: Math.max(1, Number(payload.value) || 1200),
            durationMs: Math.max(1, Number(seconds.value) || 5) * 1000,
            window: 32,
          },
        });
      },
    },
    h(
      "fieldset",
      {},
      h("legend", {}, "Throughput"),
      field("Mode", mode),
      h(
        "div",
        { class: "row" },
        field("Echo address (tunnel)", target),
        field("Echo port (tunnel)", port),
        field("Echo upstream (raw)", upstream),
      ),
      h(
        "div",
        { class: "row" },
        field("Seconds", seconds),
        field("Datagram payload (bytes)", payload),
      ),
      run,
      result,
    ),
  );
}
