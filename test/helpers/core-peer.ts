/**
 * Our own WireGuard peer for interop tests: a `UdpDevice` of @wiregate/core over real UDP, with an
 * ICMP/ICMPv6 echo responder for its tunnel addresses, a pinger, and every trace event recorded.
 */
import { formatTraceEvent, keyFromBase64, type PeerOptions, type TraceEvent } from "@wiregate/core";
import { UdpDevice } from "@wiregate/core/node";
import { buildEcho, echoReply, parsePacket } from "@wiregate/packets";

export interface CorePeerOptions {
  /** Base64 private key. */
  privateKey: string;
  /** Our tunnel addresses (no prefix length): echo requests to these are answered. */
  addresses: readonly string[];
  /** Address to bind the UDP socket to. */
  host: string;
  port?: number;
  peers?: readonly PeerOptions[];
  /** Called for every decrypted packet that is not an echo request/reply handled here. */
  onPacket?: (packet: Uint8Array, peer: string) => void;
  onEvent?: (event: TraceEvent) => void;
  /** The Device's rule for crossing initiations (default: its own, "keep-both"). */
  collisionPolicy?: "keep-both" | "latest-wins";
}

/** A trace event with the process's monotonic clock in ns when the adapter reported it. */
export interface StampedEvent extends TraceEvent {
  hrtime: bigint;
}

export interface CorePeer {
  readonly udp: UdpDevice;
  readonly publicKey: Uint8Array;
  readonly events: StampedEvent[];
  /** Echo requests answered (from the far side through the tunnel). */
  readonly echoesAnswered: number;
  /**
   * Sends one echo request from `source` to `destination` through the tunnel; resolves with the
   * round-trip time in ms when the reply arrives, rejects after `timeoutMs`.
   */
  ping(source: string, destination: string, timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
}

let nextIdentifier = 0x5700;

export async function startCorePeer(options: CorePeerOptions): Promise<CorePeer> {
  const events: StampedEvent[] = [];
  const waiting = new Map<string, (at: bigint) => void>();
  const ours = new Set(options.addresses);
  let answered = 0;
  const identifier = nextIdentifier++ & 0xffff;
  let sequence = 0;

  const udp: UdpDevice = await UdpDevice.start({
    privateKey: keyFromBase64(options.privateKey),
    host: options.host,
    port: options.port ?? 0,
    type: options.host.includes(":") ? "udp6" : "udp4",
    peers: [...(options.peers ?? [])],
    ...(options.collisionPolicy ? { collisionPolicy: options.collisionPolicy } : {}),
    onEvent: (event) => {
      events.push({ ...event, hrtime: process.hrtime.bigint() });
      options.onEvent?.(event);
    },
    onPacket: (packet, peer) => {
      const parsed = parsePacket(packet);
      const reply =
        parsed?.echo?.type === "request" && ours.has(parsed.destination) ? echoReply(packet) : null;
      if (reply) {
        answered++;
        udp.send(reply);
        return;
      }
      const echo = parsed?.echo;
      if (parsed && echo?.type === "reply" && echo.id === identifier) {
        const key = `${parsed.source}/${echo.sequence}`;
        waiting.get(key)?.(process.hrtime.bigint());
        waiting.delete(key);
        return;
      }
      options.onPacket?.(packet, peer);
    },
  });

  return {
    udp,
    publicKey: udp.device.publicKey,
    events,
    get echoesAnswered() {
      return answered;
    },
    ping: (source, destination, timeoutMs = 1_000) => {
      sequence = (sequence + 1) & 0xffff;
      const key = `${destination}/${sequence}`;
      const payload = new TextEncoder().encode(`wiregate ping ${sequence}`.padEnd(48, "."));
      const request = buildEcho({ source, destination, id: identifier, sequence, data: payload });
      return new Promise<number>((resolve, reject) => {
        const sentAt = process.hrtime.bigint();
        const timer = setTimeout(() => {
          waiting.delete(key);
          reject(
            new Error(`no echo reply from ${destination} (seq ${sequence}) in ${timeoutMs} ms`),
          );
        }, timeoutMs);
        waiting.set(key, (at) => {
          clearTimeout(timer);
          resolve(Number(at - sentAt) / 1e6);
        });
        udp.send(request);
      });
    },
    close: () => udp.close(),
  };
}

/** The events in order, one line each, for assertion messages. */
export function eventSummary(events: readonly TraceEvent[]): string {
  return events.map(formatTraceEvent).join("\n");
}
