/**
 * Tools: resolve names through the tunnel's DNS (the worker's resolver). One name: its addresses
 * and TTLs. Several (separated by spaces or commas): how many resolved and the first errors, asked
 * a few at a time.
 */
import type { TunnelClient } from "../client.js";
import { field, h, replace } from "../dom.js";
import type { ResolvePortMessage } from "../protocol.js";

/** Names asked at once when several are given (the resolver's own limit is higher). */
const AT_ONCE = 8;

function ask(client: TunnelClient, name: string): Promise<ResolvePortMessage> {
  const { port1, port2 } = new MessageChannel();
  return new Promise((resolve) => {
    port1.onmessage = ({ data }: MessageEvent<ResolvePortMessage>) => {
      port1.close();
      resolve(data);
    };
    client.send({ type: "resolve", name, channel: port2 }, [port2]);
  });
}

export function resolveSection(client: TunnelClient, defaultName: string): HTMLElement {
  const input = h("input", { type: "text", value: defaultName, autocomplete: "off" });
  const go = h("button", { type: "submit" }, "Resolve");
  const result = h("dl", {
    class: "facts",
    "data-testid": "resolve-result",
    "aria-live": "polite",
  });
  const message = h("p", { class: "message", "data-testid": "resolve-message", role: "status" });
  const counters = h("p", { class: "muted", "data-testid": "resolve-stats" });

  const showStats = (data: ResolvePortMessage) => {
    const s = data.stats;
    replace(
      counters,
      s
        ? `Cache: ${s.cacheEntries} entries · ${s.pending} queries in flight · ${s.sent} sent · dropped: ${s.unrelated} unrelated, ${s.garbage} unusable`
        : "",
    );
    counters.dataset.stats = JSON.stringify(s ?? {});
  };

  const one = async (name: string) => {
    const data = await ask(client, name);
    if (data.type === "error") {
      replace(message, data.message);
      message.dataset.error = "true";
    } else {
      const r = data.resolution;
      replace(message, `${r.name}${r.cached ? " (from the cache)" : ""}`);
      replace(
        result,
        ...r.addresses.flatMap((a) => [
          h("dt", {}, a.type),
          h("dd", { "data-testid": "resolved-address" }, `${a.address} · TTL ${a.ttl} s`),
        ]),
      );
    }
    showStats(data);
  };

  const many = async (names: string[]) => {
    let resolved = 0;
    const errors: string[] = [];
    let last: ResolvePortMessage | undefined;
    let next = 0;
    const worker = async () => {
      while (next < names.length) {
        const data = await ask(client, names[next++]!);
        if (data.type === "resolved") resolved++;
        else errors.push(data.message);
        last = data;
      }
    };
    await Promise.all(Array.from({ length: Math.min(AT_ONCE, names.length) }, worker));
    replace(
      message,
      `${resolved} of ${names.length} names resolved${errors.length ? `; ${errors.slice(0, 3).join("; ")}` : ""}`,
    );
    if (errors.length) message.dataset.error = "true";
    if (last) showStats(last);
  };

  const resolve = async (event: Event) => {
    event.preventDefault();
    const names = input.value.split(/[\s,]+/).filter(Boolean);
    if (names.length === 0) return;
    replace(result);
    replace(message, `Resolving ${names.length === 1 ? names[0] : `${names.length} names`}…`);
    delete message.dataset.error;
    delete result.dataset.done;
    go.disabled = true;
    try {
      await (names.length === 1 ? one(names[0]!) : many(names));
    } finally {
      go.disabled = false;
      result.dataset.done = "true";
    }
  };
  return h(
    "form",
    { class: "stack", onsubmit: resolve },
    h(
      "fieldset",
      {},
      h("legend", {}, "Resolve names inside the tunnel"),
      field(
        "Name to resolve",
        input,
        "Asked of the DNS servers of the config's DNS line (or the Connect screen's DNS field), with its search domains; several names: separated by spaces",
      ),
      h("div", { class: "row" }, go),
      message,
      result,
      counters,
    ),
  );
}
