/**
 * Our engine as a relay client (the Node client): one core `Device` driven with real time whose
 * every datagram travels over a WebTransport session (HTTP/2, from Node) to a relay. It says its
 * public key in the hello, so an upstream that hands out tunnel addresses (the demo peer) answers
 * with them in the welcome.
 */
import { quicheLoaded, WebTransport } from "@fails-components/webtransport";
import {
  Device,
  DeviceRunner,
  generatePrivateKey,
  keyFromBase64,
  keyToBase64,
  type Output,
  realTime,
  type TraceEvent,
} from "@wiregate/core";
import { nodeCrypto } from "@wiregate/core/node";
import { buildEcho, parsePacket } from "@wiregate/packets";
import type { RelayAddress } from "@wiregate/relay";
import {
  connectRelay,
  type RelayConnection,
  type WebTransportConstructor,
} from "@wiregate/relay-protocol";

/** The Device never sees a real address: everything it sends goes into the relay session. */
const RELAY_ENDPOINT = { address: "relay", port: 1 };

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const wallClock = () => BigInt(Date.now()) * 1_000_000n;

/** Our engine as a relay client: one Device, real time, datagrams through the current session. */
export class RelayClient {
  readonly device = new Device({
    privateKey: generatePrivateKey(random),
    random,
    wallClock,
    crypto: nodeCrypto,
  });
  readonly events: TraceEvent[] = [];
  connection: RelayConnection | undefined;
  /** Datagrams the device wanted to send while no session was open (dropped, like lost UDP). */
  lost = 0;
  sent = 0;
  received = 0;
  readonly #runner = new DeviceRunner<Output>({
    scheduler: realTime,
    tick: (now) => this.device.tick(now),
    output: (out) => this.#handle(out),
  });
  #id = Math.floor(Math.random() * 0xffff);
  #sequence = 0;
  readonly #waiting = new Map<string, () => void>();

  addPeer(publicKey: string, allowedIps: string[]): void {
    this.#runner.run((now) =>
      this.device.addPeer(now, {
        publicKey: keyFromBase64(publicKey),
        allowedIps,
        endpoint: RELAY_ENDPOINT,
      }),
    );
  }

  async connect(address: RelayAddress, upstream: string, token: string): Promise<RelayConnection> {
    await quicheLoaded;
    const connection = await connectRelay({
      WebTransport: WebTransport as unknown as WebTransportConstructor,
      url: address.url,
      token,
      upstream,
      publicKey: keyToBase64(this.device.publicKey),
      serverCertificateHashes: [{ algorithm: "sha-256", value: address.certificateSha256 }],
      transportOptions: { forceReliable: true },
      onDatagram: (datagram) => {
        this.received++;
        this.#runner.run((now) => this.device.receive(now, datagram, RELAY_ENDPOINT));
      },
    });
    this.connection = connection;
    void connection.closed.then(() => {
      if (this.connection === connection) this.connection = undefined;
    });
    return connection;
  }

  /** One echo request through the tunnel; resolves when its reply arrives. */
  ping(source: string, destination: string, timeoutMs = 5_000): Promise<void> {
    const sequence = ++this.#sequence;
    const key = `${destination}/${sequence}`;
    const reply = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(key);
        reject(new Error(`no echo reply from ${destination} (seq ${sequence}) in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(key, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    const packet = buildEcho({ source, destination, id: this.#id, sequence });
    this.#runner.run((now) => this.device.send(now, packet));
    return reply;
  }

  count(kind: TraceEvent["kind"]): number {
    return this.events.filter((e) => e.kind === kind).length;
  }

  close(): void {
    this.#runner.stop();
    this.connection?.close();
  }

  #handle(out: Output): void {
    this.events.push(...out.events);
    for (const datagram of out.datagrams) {
      if (this.connection) {
        this.connection.send(datagram.data);
        this.sent++;
      } else this.lost++;
    }
    for (const packet of out.packets) {
      const parsed = parsePacket(packet.data);
      if (parsed?.echo?.type === "reply" && parsed.echo.id === this.#id) {
        this.#waiting.get(`${parsed.source}/${parsed.echo.sequence}`)?.();
      }
    }
  }
}
