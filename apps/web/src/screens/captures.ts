/** Captures: a pcap/pcapng (and optionally a key log) analysed in the page, nothing uploaded. */
import { h } from "../dom.js";

export function capturesScreen(): HTMLElement {
  return h(
    "section",
    { "aria-labelledby": "captures-title" },
    h("h2", { id: "captures-title" }, "Captures"),
    h(
      "p",
      { class: "muted" },
      "The capture viewer needs the analysis package, which is not built yet.",
    ),
  );
}
