/** Tools: ping inside the tunnel (ICMP or ICMPv6 echo, built and timed in the worker). */
import type { TunnelClient } from "../client.js";
import { field, h, replace } from "../dom.js";
import type { PingSummary } from "../protocol.js";

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
      log.lastElementChild?.scrollIntoView?.({ block: "nearest" });
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
      field("Destination", target, "An address inside the tunnel (IPv4 or IPv6)"),
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
  );
}
