/**
 * The terminal: xterm.js with its fit add-on, and the few lines between it and an SSH channel.
 * Keys and pastes go to the channel as UTF-8; what the server sends is written as bytes (xterm
 * decodes UTF-8 across chunks) and the channel's window is opened again only once xterm has
 * drawn it, so a flood from the server waits for the screen instead of piling up in memory.
 */
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { Buffer } from "buffer";
import type { SshShell } from "./session.js";

export function createTerminal(parent: HTMLElement): { term: Terminal; fit: FitAddon } {
  const term = new Terminal({
    scrollback: 5000,
    cursorBlink: true,
    fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
    fontSize: 14,
    theme: { background: "#111418", foreground: "#e6e9ee" },
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(parent);
  fit.fit();
  return { term, fit };
}

/** Connects the terminal to the shell's channel; returns what undoes it. */
export function attach(
  term: Terminal,
  shell: SshShell,
  received: (bytes: number) => void,
): () => void {
  const { channel } = shell;
  const encoder = new TextEncoder();
  const show = (data: Uint8Array) => {
    received(data.length);
    term.write(new Uint8Array(data), () => channel.adjustWindow(data.length));
  };
  const subscriptions = [
    term.onData((data) => void channel.send(Buffer.from(encoder.encode(data))).catch(() => {})),
    term.onBinary((data) => void channel.send(Buffer.from(data, "latin1")).catch(() => {})),
    term.onResize(({ cols, rows }) => shell.resize(cols, rows)),
    // Copies: the library's buffers are not ours to keep until xterm has parsed them.
    channel.onDataReceived((data) => show(data)),
    channel.onExtendedDataReceived(({ data }) => show(data)),
  ];
  return () => {
    for (const s of subscriptions) s.dispose();
  };
}
