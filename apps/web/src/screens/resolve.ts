/** Tools: resolve a name through the tunnel's DNS (the worker's resolver): its addresses and TTLs. */
import type { TunnelClient } from "../client.js";
import { field, h, replace } from "../dom.js";
import type { ResolvePortMessage } from "../protocol.js";

export function resolveSection(client: TunnelClient, defaultName: string): HTMLElement {
  const name = h("input", { type: "text", value: defaultName, autocomplete: "off" });
  const go = h("button", { type: "submit" }, "Resolve");
  const result = h("dl", {
    class: "facts",
    "data-testid": "resolve-result",
    "aria-live": "polite",
  });
  const message = h("p", { class: "message", "data-testid": "resolve-message", role: "status" });
  const counters = h("p", { class: "muted", "data-testid": "resolve-stats" });
  const resolve = (event: Event) => {
    event.preventDefault();
    const { port1, port2 } = new MessageChannel();
    replace(result);
    replace(message, `Resolving ${name.value.trim()}…`);
    delete result.dataset.done;
    port1.onmessage = ({ data }: MessageEvent<ResolvePortMessage>) => {
      port1.close();
      const stats = data.stats
        ? `Cache: ${data.stats.cacheEntries} entries, ${data.stats.pending} queries in flight, ${data.stats.sent} sent, ${data.stats.unrelated} unrelated and ${data.stats.garbage} unusable answers dropped.`
        : "";
      if (data.type === "error") {
        replace(message, data.message);
        message.dataset.error = "true";
      } else {
        const r = data.resolution;
        delete message.dataset.error;
        replace(message, `${r.name}${r.cached ? " (from the cache)" : ""}`);
        replace(
          result,
          ...r.addresses.flatMap((a) => [
            h("dt", {}, a.type),
            h("dd", { "data-testid": "resolved-address" }, `${a.address} · TTL ${a.ttl} s`),
          ]),
        );
      }
      replace(counters, stats);
      counters.dataset.stats = JSON.stringify(data.stats ?? {});
      result.dataset.done = "true";
    };
    client.send({ type: "resolve", name: name.value.trim(), channel: port2 }, [port2]);
  };
  return h(
    "form",
    { class: "stack", onsubmit: resolve },
    h(
      "fieldset",
      {},
      h("legend", {}, "Resolve a name inside the tunnel"),
      field(
        "Name to resolve",
        name,
        "Asked of the DNS servers of the config's DNS line (or the Connect screen's DNS field), with its search domains",
      ),
      h("div", { class: "row" }, go),
      message,
      result,
      counters,
    ),
  );
}
