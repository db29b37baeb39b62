/**
 * The two engines a replay can run, each driven by core's `DeviceRunner` on the replay's virtual
 * scheduler: our `Device`, or the wireguard-go model. Every call's output (datagrams, log lines,
 * errors) goes to `emit` as it happens; the runner ticks the engine at its deadlines.
 */
import {
  type CryptoBackend,
  Device,
  DeviceRunner,
  formatTraceEvent,
  type Output,
  REKEY_TIMEOUT_JITTER_MAX,
  type Scheduler,
  type UdpEndpoint,
} from "@wiregate/core";
import { other, type Script, type Side } from "./replay-setup.js";
import { WireGuardGoPeer } from "./wireguard-go-peer.js";

export type ReplayModel = "wiregate" | "wireguard-go";

/** What one call into an engine produced. */
export interface EngineOutput {
  datagrams: Uint8Array[];
  lines: string[];
  errors: string[];
}

/** One side's engine; each call runs at the scheduler's now. */
export interface ReplayEngine {
  send(packet: Uint8Array): void;
  initiate(): void;
  receive(bytes: Uint8Array): void;
  /** Tunnel bytes received from the peer so far. */
  received(): number;
  stop(): void;
}

export interface EngineOptions {
  side: Side;
  scheduler: Scheduler;
  privateKey: Uint8Array;
  peerPublicKey: Uint8Array;
  presharedKey: Uint8Array | undefined;
  script: Script;
  crypto: CryptoBackend;
  emit: (out: EngineOutput) => void;
}

const ENDPOINT: Record<Side, UdpEndpoint> = {
  A: { address: "192.0.2.1", port: 51820 },
  B: { address: "192.0.2.2", port: 51820 },
};

export function createEngine(model: ReplayModel, o: EngineOptions): ReplayEngine {
  return model === "wireguard-go" ? wireguardGoEngine(o) : wiregateEngine(o);
}

function wiregateEngine(o: EngineOptions): ReplayEngine {
  const s = o.side;
  const from = ENDPOINT[other(s)];
  const device = new Device({
    privateKey: o.privateKey,
    entropy: o.script.entropy,
    wallClock: () => o.script.wallClock(o.scheduler.now()),
    crypto: o.crypto,
  });
  device.addPeer(0, {
    publicKey: o.peerPublicKey,
    presharedKey: o.presharedKey,
    endpoint: from,
    allowedIps: ["0.0.0.0/0", "::/0"],
  });
  const runner = new DeviceRunner<Output>({
    scheduler: o.scheduler,
    tick: (now) => device.tick(now),
    output: (out) =>
      o.emit({
        datagrams: out.datagrams.map((dg) => dg.data),
        lines: out.events
          .filter((e) => e.kind !== "peer-added")
          .map((e) => `${s}: ${formatTraceEvent(e)}`),
        errors: out.events
          .filter((e) => e.level === "error")
          .map((e) => `${s}: ${e.kind} ${e.reason ?? ""}`),
      }),
  });
  return {
    send: (p) => runner.run((now) => device.send(now, p)),
    initiate: () => runner.run((now) => device.initiateHandshake(now, o.peerPublicKey)),
    receive: (b) => runner.run((now) => device.receive(now, b, from)),
    received: () => device.peerStatus(o.peerPublicKey)?.rxBytes ?? 0,
    stop: () => runner.stop(),
  };
}

function wireguardGoEngine(o: EngineOptions): ReplayEngine {
  const peer = new WireGuardGoPeer({
    name: o.side,
    privateKey: o.privateKey,
    peerPublicKey: o.peerPublicKey,
    presharedKey: o.presharedKey,
    entropy: o.script.entropy,
    // A retry the capture does not show had not fired when the capture saw its handshake end:
    // the latest jitter wireguard-go can draw is the one that agrees with that best. (A guessed
    // earlier one can cross the other side's captured retry and stall a replay that did not.)
    retransmitJitter: () => o.script.jitters.shift() ?? REKEY_TIMEOUT_JITTER_MAX,
    wallClock: (now) => o.script.wallClock(now),
    crypto: o.crypto,
  });
  let logged = 0;
  const call = (step: (now: number) => void) => (now: number) => {
    step(now);
    return { deadline: peer.deadline() };
  };
  const runner = new DeviceRunner({
    scheduler: o.scheduler,
    tick: call((now) => peer.tick(now)),
    output: () => {
      const { datagrams } = peer.take();
      const fresh = peer.log.slice(logged);
      logged = peer.log.length;
      o.emit({
        datagrams,
        lines: fresh.map((l) => `${l.level === "error" ? "ERROR " : ""}${l.text}`),
        errors: fresh.filter((l) => l.level === "error").map((l) => l.text),
      });
    },
  });
  return {
    send: (p) => runner.run(call((now) => peer.send(now, p))),
    initiate: () =>
      runner.run(
        call((now) => {
          peer.setTime(now);
          peer.sendHandshakeInitiation(false);
        }),
      ),
    receive: (b) => runner.run(call((now) => peer.receive(now, b))),
    received: () => peer.received,
    stop: () => runner.stop(),
  };
}
