/**
 * The SSH screen (loaded only when it is first opened): the login form, the user's key, the
 * known hosts, and the sessions as tabs, each a terminal on a shell.
 */
import "./buffer-global.js";
import type { KeyPair } from "@microsoft/dev-tunnels-ssh";
import type { TunnelClient } from "../client.js";
import { field, h, replace } from "../dom.js";
import { type HostKey, KnownHosts } from "./host-keys.js";
import { generateKey, importPrivateKey, privateText, publicLine } from "./keys.js";
import { forgetSsh, loadSsh, saveSsh } from "./saved.js";
import { openShell, type SshAuth, type SshShell, type SshTarget } from "./session.js";
import { attach, createTerminal } from "./terminal.js";

const LOGIN_TIMEOUT_MS = 20_000;

export function mountSshScreen(root: HTMLElement, client: TunnelClient): void {
  const known = new KnownHosts();
  let key: KeyPair | undefined;

  // ------------------------------------------------------------------ login form
  const host = h("input", { type: "text", value: "10.99.0.1", autocomplete: "off" });
  const port = h("input", { type: "number", value: "22", min: "1", max: "65535" });
  const user = h("input", { type: "text", value: "", autocomplete: "off" });
  const method = h(
    "select",
    {},
    h("option", { value: "password" }, "Password"),
    h("option", { value: "key" }, "Key"),
    h("option", { value: "keyboard-interactive" }, "Keyboard-interactive"),
  );
  const password = h("input", { type: "password", autocomplete: "off" });
  const passwordField = field("Password", password);
  const publicKey = h("textarea", {
    readonly: true,
    rows: 3,
    "data-testid": "ssh-public-key",
    placeholder: "Generate or import a key",
  });
  const keyFile = h("input", { type: "file" });
  const keyState = h("p", {
    class: "muted",
    "data-testid": "ssh-key-state",
    "aria-live": "polite",
  });
  const showKey = async (next: KeyPair, origin: string) => {
    key = next;
    publicKey.value = await publicLine(next);
    keyState.textContent = `${origin}: paste the public half into ~/.ssh/authorized_keys on the server.`;
    void persist();
  };
  const keyFields = h(
    "div",
    { hidden: true },
    h(
      "div",
      { class: "row" },
      h(
        "button",
        {
          type: "button",
          onclick: () =>
            void generateKey("wiregate-page")
              .then((k) => showKey(k, "Generated in this page (Ed25519)"))
              .catch((e: Error) => {
                keyState.textContent = `Could not generate a key: ${e.message}`;
              }),
        },
        "Generate key",
      ),
    ),
    field("Import a private key (OpenSSH or PEM; Ed25519, ECDSA or RSA)", keyFile),
    field("Public key (for authorized_keys)", publicKey),
    keyState,
  );
  keyFile.addEventListener("change", async () => {
    const file = keyFile.files?.[0];
    if (!file) return;
    try {
      await showKey(await importPrivateKey(await file.text()), `Imported ${file.name}`);
    } catch (e) {
      keyState.textContent = `Not imported: ${(e as Error).message}`;
    }
    keyFile.value = "";
  });
  const showMethod = () => {
    passwordField.hidden = method.value !== "password";
    keyFields.hidden = method.value !== "key";
  };
  method.addEventListener("change", showMethod);
  const formError = h("p", { class: "bad", role: "alert", "data-testid": "ssh-form-error" });

  // ------------------------------------------------------------------ known hosts, remembering
  const remember = h("input", { type: "checkbox", id: "ssh-remember" });
  const hostList = h("ul", { class: "known-hosts", "data-testid": "ssh-known-hosts" });
  const showKnown = () => {
    const entries = known.entries();
    replace(
      hostList,
      entries.length === 0 ? h("li", { class: "muted" }, "None yet.") : null,
      entries.map(([id, k]) =>
        h(
          "li",
          { "data-host": id },
          h("code", {}, `${id} ${k.type} ${k.fingerprint}`),
          " ",
          h(
            "button",
            {
              type: "button",
              "aria-label": `Remove the host key of ${id}`,
              onclick: () => {
                known.remove(id);
                showKnown();
                void persist();
              },
            },
            "Remove",
          ),
        ),
      ),
    );
  };
  const saved = h("span", {
    class: "muted",
    "data-testid": "ssh-remember-state",
    "aria-live": "polite",
  });
  const persist = async () => {
    if (!remember.checked) return;
    saved.textContent = "Saving…";
    await saveSsh({
      knownHosts: known.entries(),
      ...(key ? { privateKey: await privateText(key), keyComment: key.comment ?? "" } : {}),
    }).then(
      () => {
        saved.textContent = "Saved in this browser.";
      },
      (e: Error) => {
        saved.textContent = `Not saved: ${e.message}`;
      },
    );
  };
  remember.addEventListener("change", () => {
    if (remember.checked) void persist();
    else
      void forgetSsh().then(() => {
        saved.textContent = "Deleted from this browser.";
      });
  });
  void loadSsh().then(async (saved) => {
    if (!saved) return;
    remember.checked = true;
    for (const [id, k] of saved.knownHosts) known.trust(id, k);
    showKnown();
    if (saved.privateKey) {
      const remembered = await importPrivateKey(saved.privateKey);
      remembered.comment = saved.keyComment ?? null;
      await showKey(remembered, "Remembered");
    }
  });
  showKnown();

  // ------------------------------------------------------------------ sessions
  const tabs = h("div", { role: "tablist", "aria-label": "SSH sessions", class: "ssh-tabs" });
  const panels = h("div", { class: "ssh-panels" });
  const sessions = new Set<SessionView>();
  const select = (view: SessionView) => {
    for (const s of sessions) s.select(s === view);
    view.fitNow();
  };

  const open = (event: Event) => {
    event.preventDefault();
    formError.textContent = "";
    const target: SshTarget = {
      host: host.value.trim(),
      port: Number(port.value) || 22,
      user: user.value.trim(),
    };
    if (!target.host || !target.user) {
      formError.textContent = "Host and user are needed.";
      return;
    }
    let auth: SshAuth;
    if (method.value === "key") {
      if (!key) {
        formError.textContent = "Generate or import a key first.";
        return;
      }
      auth = { kind: "key", key };
    } else if (method.value === "password") {
      auth = { kind: "password", password: password.value };
    } else {
      auth = { kind: "keyboard-interactive", answer: (p, i) => view.ask(p, i) };
    }
    const view: SessionView = new SessionView(client, target, auth, {
      checkHostKey: (id, hostKey) => view.confirmHostKey(id, hostKey),
      select: () => select(view),
      closed: () => {
        sessions.delete(view);
        const next = [...sessions].at(-1);
        if (next) select(next);
      },
      known,
      trusted: () => {
        showKnown();
        void persist();
      },
    });
    sessions.add(view);
    tabs.append(view.tab);
    panels.append(view.panel);
    select(view);
    void view.connect();
  };

  // The tunnel went down for good (disconnected, or failed): every session ends, and says why.
  client.on((m) => {
    if (m.type !== "state") return;
    if (m.state.phase === "idle" || m.state.phase === "failed") {
      const why =
        m.state.phase === "failed"
          ? `the tunnel failed (${m.state.detail})`
          : "the tunnel was disconnected";
      for (const s of sessions) s.tunnelDown(why);
    }
  });

  replace(
    root,
    h("h2", { id: "ssh-title" }, "SSH"),
    h(
      "form",
      { class: "stack", onsubmit: open },
      h(
        "fieldset",
        {},
        h("legend", {}, "Log in through the tunnel"),
        h(
          "div",
          { class: "row" },
          field("SSH host", host, "An address or a name inside the tunnel"),
          field("SSH port", port),
          field("User", user),
        ),
        field("Authentication", method),
        passwordField,
        keyFields,
        h("button", { type: "submit", class: "primary" }, "Open SSH session"),
        formError,
      ),
    ),
    tabs,
    panels,
    h(
      "fieldset",
      {},
      h("legend", {}, "Known hosts"),
      hostList,
      h(
        "div",
        { class: "row" },
        remember,
        h(
          "label",
          { for: "ssh-remember" },
          "Remember the key and known hosts in this browser (stored unencrypted)",
        ),
        saved,
      ),
    ),
  );
  showMethod();
}

interface SessionHooks {
  checkHostKey: (id: string, key: HostKey) => Promise<true | string>;
  select: () => void;
  closed: () => void;
  known: KnownHosts;
  trusted: () => void;
}

let counter = 0;

/** One session: its tab, its terminal, its shell; reconnects on demand. */
class SessionView {
  readonly tab: HTMLButtonElement;
  readonly panel: HTMLElement;
  readonly #status: HTMLElement;
  readonly #prompt: HTMLElement;
  readonly #screen: HTMLElement;
  readonly #term;
  readonly #fit;
  readonly #reconnect: HTMLButtonElement;
  #shell: SshShell | undefined;
  #detach: (() => void) | undefined;
  #ended = false;
  /** Bytes the server sent to the terminal, over every connection of this session. */
  #received = 0;

  constructor(
    readonly client: TunnelClient,
    readonly target: SshTarget,
    readonly auth: SshAuth,
    readonly hooks: SessionHooks,
  ) {
    const n = ++counter;
    const name = `${target.user}@${target.host}${target.port === 22 ? "" : `:${target.port}`}`;
    this.tab = h(
      "button",
      {
        type: "button",
        role: "tab",
        id: `ssh-tab-${n}`,
        "aria-controls": `ssh-panel-${n}`,
        onclick: () => hooks.select(),
      },
      `${name} (${n})`,
    );
    this.#status = h("p", { class: "ssh-status", "data-testid": "ssh-status", role: "status" });
    this.#prompt = h("div", { class: "ssh-prompt" });
    this.#screen = h("div", { class: "terminal", "data-testid": "ssh-terminal" });
    this.#reconnect = h(
      "button",
      { type: "button", hidden: true, onclick: () => void this.connect() },
      "Reconnect",
    );
    this.panel = h(
      "div",
      { role: "tabpanel", id: `ssh-panel-${n}`, "aria-labelledby": this.tab.id, class: "stack" },
      h(
        "div",
        { class: "row" },
        this.#status,
        this.#reconnect,
        h("button", { type: "button", onclick: () => void this.close() }, "Close session"),
      ),
      this.#prompt,
      this.#screen,
    );
    ({ term: this.#term, fit: this.#fit } = createTerminal(this.#screen));
    new ResizeObserver(() => this.fitNow()).observe(this.#screen);
  }

  select(selected: boolean): void {
    this.tab.setAttribute("aria-selected", String(selected));
    this.panel.hidden = !selected;
    if (selected) this.#term.focus();
  }

  fitNow(): void {
    if (this.panel.hidden || this.#ended) return;
    this.#fit.fit();
    this.#screen.dataset.cols = String(this.#term.cols);
    this.#screen.dataset.rows = String(this.#term.rows);
  }

  #say(text: string, state: string): void {
    this.#status.textContent = text;
    this.#status.dataset.state = state;
  }

  async connect(): Promise<void> {
    this.#reconnect.hidden = true;
    this.#detach?.();
    this.fitNow();
    const id = KnownHosts.id(this.target.host, this.target.port);
    try {
      const shell = await openShell(this.client, this.target, this.auth, {
        checkHostKey: (key) => this.hooks.checkHostKey(id, key),
        cols: this.#term.cols,
        rows: this.#term.rows,
        timeoutMs: LOGIN_TIMEOUT_MS,
        progress: (step) => this.#say(step, "connecting"),
      });
      this.#shell = shell;
      this.#detach = attach(this.#term, shell, (bytes) => {
        this.#received += bytes;
        this.#screen.dataset.received = String(this.#received);
      });
      shell.session.onClosed(
        (e) => this.#ended || this.#lost(e.message || "the connection closed"),
      );
      shell.channel.onClosed(() => this.#lost("the shell exited"));
      await shell.start();
      this.#say(`Connected to ${id} as ${this.target.user}.`, "connected");
      this.#term.focus();
    } catch (e) {
      this.#shell = undefined;
      this.#say(`Not connected: ${(e as Error).message}`, "failed");
      this.#reconnect.hidden = false;
    }
  }

  #lost(why: string): void {
    if (!this.#shell) return;
    void this.#shell.close();
    this.#shell = undefined;
    this.#detach?.();
    this.#detach = undefined;
    this.#say(`Session ended: ${why}.`, "ended");
    this.#term.write(`\r\n\x1b[33m[session ended: ${why}]\x1b[0m\r\n`);
    this.#reconnect.hidden = false;
  }

  tunnelDown(why: string): void {
    this.#lost(why);
  }

  /** The known-hosts check, asking the user about a new key. */
  async confirmHostKey(id: string, key: HostKey): Promise<true | string> {
    const verdict = this.hooks.known.check(id, key);
    if (verdict === "known") return true;
    if (verdict !== "unknown") {
      return `REMOTE HOST IDENTIFICATION HAS CHANGED for ${id}: it now shows ${key.type} ${key.fingerprint}, but this page knows ${verdict.changed.type} ${verdict.changed.fingerprint}. Refused. If the change is expected, remove the old key under "Known hosts" and connect again.`;
    }
    const yes = await this.#ask(
      `The authenticity of host ${id} can't be established. Its ${key.type} key fingerprint is ${key.fingerprint}.`,
      "Trust and connect",
    );
    if (!yes) return "the host key was not trusted";
    this.hooks.known.trust(id, key);
    this.hooks.trusted();
    return true;
  }

  #ask(text: string, accept: string): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (answer: boolean) => {
        replace(this.#prompt);
        resolve(answer);
      };
      replace(
        this.#prompt,
        h(
          "div",
          { role: "alertdialog", "aria-label": "New host key", class: "stack" },
          h("p", { "data-testid": "ssh-host-key-prompt" }, text),
          h(
            "div",
            { class: "row" },
            h("button", { type: "button", class: "primary", onclick: () => done(true) }, accept),
            h("button", { type: "button", onclick: () => done(false) }, "Cancel"),
          ),
        ),
      );
    });
  }

  /** Keyboard-interactive: the server's prompts, answered in a small form. */
  ask(prompts: { prompt: string; echo: boolean }[], instruction: string): Promise<string[]> {
    return new Promise((resolve) => {
      const inputs = prompts.map((p) =>
        h("input", { type: p.echo ? "text" : "password", autocomplete: "off" }),
      );
      replace(
        this.#prompt,
        h(
          "form",
          {
            class: "stack",
            "aria-label": "Server prompts",
            onsubmit: (event: Event) => {
              event.preventDefault();
              replace(this.#prompt);
              resolve(inputs.map((i) => i.value));
            },
          },
          instruction ? h("p", {}, instruction) : null,
          prompts.map((p, i) => field(p.prompt.trim() || `Answer ${i + 1}`, inputs[i]!)),
          h("button", { type: "submit", class: "primary" }, "Send"),
        ),
      );
      inputs[0]?.focus();
    });
  }

  async close(): Promise<void> {
    this.#ended = true;
    this.#detach?.();
    await this.#shell?.close();
    this.#term.dispose();
    this.tab.remove();
    this.panel.remove();
    this.hooks.closed();
  }
}
