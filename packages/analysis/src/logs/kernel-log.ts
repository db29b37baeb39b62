/**
 * The Linux kernel module's dynamic-debug lines (drivers/net/wireguard/{send,receive,timers,
 * noise,peer,cookie}.c, `pr_fmt` = "wireguard: "): `wireguard: IFACE: MESSAGE`. Peers are named by
 * their internal id (`peer 3`), endpoints as `%pISpfsc` (`192.0.2.1:51820`, `[2001:db8::1]:51820`).
 * Times come from the prefix: dmesg's monotonic seconds or the journal's stamp.
 */
import type { LogEventKind } from "./log-event.js";

const LINE = /^(?:kernel: )?wireguard: ([^\s:]{1,64}): (.*)$/;
/** The module's own lines without an interface (its load banner). */
const MODULE_LINE = /^(?:kernel: )?wireguard: (.*)$/;

type Field = "peer" | "endpoint" | "number";
const MESSAGES: readonly [RegExp, LogEventKind, ...Field[]][] = [
  [/^Sending handshake initiation to peer (\d+) \((.*)\)$/, "initiation-sent", "peer", "endpoint"],
  [
    /^Receiving handshake initiation from peer (\d+) \((.*)\)$/,
    "initiation-received",
    "peer",
    "endpoint",
  ],
  [/^Sending handshake response to peer (\d+) \((.*)\)$/, "response-sent", "peer", "endpoint"],
  [
    /^Receiving handshake response from peer (\d+) \((.*)\)$/,
    "response-received",
    "peer",
    "endpoint",
  ],
  [/^Invalid handshake initiation from (.*)$/, "initiation-invalid", "endpoint"],
  [/^Invalid handshake response from (.*)$/, "response-invalid", "endpoint"],
  [
    /^Handshake for peer (\d+) \((.*)\) did not complete after \d+ seconds, retrying \(try (\d+)\)$/,
    "retry",
    "peer",
    "endpoint",
    "number",
  ],
  [
    /^Handshake for peer (\d+) \((.*)\) did not complete after (\d+) attempts, giving up$/,
    "gave-up",
    "peer",
    "endpoint",
    "number",
  ],
  [
    /^Retrying handshake with peer (\d+) \((.*)\) because we stopped hearing back after (\d+) seconds$/,
    "stopped-hearing",
    "peer",
    "endpoint",
    "number",
  ],
  [
    /^Zeroing out all keys for peer (\d+) \((.*)\), since we haven't received a new one in (\d+) seconds$/,
    "keys-zeroed",
    "peer",
    "endpoint",
    "number",
  ],
  [/^Sending keepalive packet to peer (\d+) \((.*)\)$/, "keepalive-sent", "peer", "endpoint"],
  [
    /^Receiving keepalive packet from peer (\d+) \((.*)\)$/,
    "keepalive-received",
    "peer",
    "endpoint",
  ],
  [/^Keypair (\d+) created for peer (\d+)$/, "keypair-created", "number", "peer"],
  [/^Keypair (\d+) destroyed for peer (\d+)$/, "keypair-destroyed", "number", "peer"],
  [/^Sending cookie response for denied handshake message for (.*)$/, "cookie-sent", "endpoint"],
  [/^Receiving cookie response from (.*)$/, "cookie-received", "endpoint"],
  [/^Invalid MAC of handshake, dropping packet from (.*)$/, "invalid-mac", "endpoint"],
];

export interface KernelLine {
  interface: string;
  message: string;
  kind?: LogEventKind;
  peer?: string;
  endpoint?: string;
  number?: number;
}

export function parseKernelLine(text: string): KernelLine | undefined {
  const m = LINE.exec(text);
  if (!m) {
    const banner = MODULE_LINE.exec(text);
    return banner ? { interface: "", message: banner[1]! } : undefined;
  }
  const line: KernelLine = { interface: m[1]!, message: m[2]! };
  for (const [pattern, kind, ...fields] of MESSAGES) {
    const found = pattern.exec(line.message);
    if (!found) continue;
    line.kind = kind;
    fields.forEach((field, i) => {
      const value = found[i + 1]!;
      if (field === "peer") line.peer = `peer ${value}`;
      else if (field === "endpoint") line.endpoint = value;
      else line.number = Number(value);
    });
    break;
  }
  return line;
}
