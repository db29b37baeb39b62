/**
 * The SSH screen's placeholder: the SSH library and the terminal (src/ssh/) are a chunk of their
 * own, fetched the first time the screen is shown, so the page's first load does not carry them.
 */
import type { TunnelClient } from "../client.js";
import { h } from "../dom.js";

export function sshScreen(client: TunnelClient): { element: HTMLElement; show: () => void } {
  const state = h("p", { class: "muted" }, "Loading the SSH client…");
  const element = h(
    "section",
    { "aria-labelledby": "ssh-title", class: "ssh" },
    h("h2", { id: "ssh-title" }, "SSH"),
    state,
  );
  let requested = false;
  const show = () => {
    if (requested) return;
    requested = true;
    import("../ssh/screen.js")
      .then(({ mountSshScreen }) => mountSshScreen(element, client))
      .catch((error: Error) => {
        state.textContent = `The SSH client did not load: ${error.message}`;
        requested = false;
      });
  };
  return { element, show };
}
