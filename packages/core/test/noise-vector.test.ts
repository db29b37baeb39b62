import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  splitKeys,
  staticStatic,
} from "../src/noise.js";
import { backendsUnderTest } from "./crypto-backends.js";

interface Vector {
  init_prologue: string;
  init_psks: string[];
  init_static: string;
  init_ephemeral: string;
  resp_static: string;
  resp_ephemeral: string;
  handshake_hash: string;
  messages: { payload: string; ciphertext: string }[];
}

const vector: Vector = JSON.parse(
  readFileSync(new URL("./fixtures/ikpsk2.json", import.meta.url), "utf8"),
).vectors[0];
const fromHex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (b) => Number.parseInt(b, 16));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

// The cacophony Noise_IKpsk2 vector, pushed through the same functions the device uses. WireGuard is
// this construction with its own prologue and payloads, so matching it proves the derivation.
describe.each(backendsUnderTest)("IKpsk2 known answer ($name)", ({ backend: c }) => {
  it("reproduces both handshake messages, the handshake hash and the transport ciphertexts", () => {
    const prologue = fromHex(vector.init_prologue);
    const psk = fromHex(vector.init_psks[0]!);
    const iStatic = fromHex(vector.init_static);
    const rStatic = fromHex(vector.resp_static);
    const iStaticPub = c.x25519Public(iStatic);
    const rStaticPub = c.x25519Public(rStatic);
    const msgs = vector.messages;

    const init = createInitiation(c, {
      localStaticPublic: iStaticPub,
      staticStatic: staticStatic(c, iStatic, rStaticPub)!,
      remoteStaticPublic: rStaticPub,
      ephemeralPrivate: fromHex(vector.init_ephemeral),
      payload: fromHex(msgs[0]!.payload),
      prologue,
    })!;
    const wire1 = Uint8Array.from([
      ...init.ephemeralPublic,
      ...init.encryptedStatic,
      ...init.encryptedPayload,
    ]);
    expect(toHex(wire1)).toBe(msgs[0]!.ciphertext);

    const consumed = consumeInitiation(c, {
      localStaticPrivate: rStatic,
      localStaticPublic: rStaticPub,
      ephemeralPublic: wire1.subarray(0, 32),
      encryptedStatic: wire1.subarray(32, 80),
      encryptedPayload: wire1.subarray(80),
      staticStaticFor: (remote) =>
        toHex(remote) === toHex(iStaticPub) ? staticStatic(c, rStatic, remote) : null,
      prologue,
    })!;
    expect(toHex(consumed.payload)).toBe(msgs[0]!.payload);

    const resp = createResponse(c, {
      state: consumed.state,
      remoteEphemeral: consumed.remoteEphemeral,
      remoteStatic: consumed.remoteStatic,
      ephemeralPrivate: fromHex(vector.resp_ephemeral),
      presharedKey: psk,
      payload: fromHex(msgs[1]!.payload),
    })!;
    const wire2 = Uint8Array.from([...resp.ephemeralPublic, ...resp.encryptedPayload]);
    expect(toHex(wire2)).toBe(msgs[1]!.ciphertext);

    const done = consumeResponse(c, {
      state: init.state,
      localEphemeralPrivate: fromHex(vector.init_ephemeral),
      localStaticPrivate: iStatic,
      ephemeralPublic: wire2.subarray(0, 32),
      encryptedPayload: wire2.subarray(32),
      presharedKey: psk,
    })!;
    expect(toHex(done.payload)).toBe(msgs[1]!.payload);
    expect(toHex(done.state.hash)).toBe(vector.handshake_hash);
    expect(toHex(resp.state.hash)).toBe(vector.handshake_hash);

    const [iSend, rSend] = splitKeys(c, done.state.chainKey);
    const [iSend2, rSend2] = splitKeys(c, resp.state.chainKey);
    expect(toHex(iSend)).toBe(toHex(iSend2));
    expect(toHex(rSend)).toBe(toHex(rSend2));
    const empty = new Uint8Array(0);
    for (let i = 2; i < msgs.length; i++) {
      const fromInitiator = i % 2 === 0;
      const counter = BigInt(Math.floor((i - 2) / 2));
      const sealed = c.seal(
        fromInitiator ? iSend : rSend,
        counter,
        fromHex(msgs[i]!.payload),
        empty,
      );
      expect(toHex(sealed)).toBe(msgs[i]!.ciphertext);
    }
  });

  it("rejects a tampered initiation and a response made with another preshared key", () => {
    const iStatic = fromHex(vector.init_static);
    const rStatic = fromHex(vector.resp_static);
    const rStaticPub = c.x25519Public(rStatic);
    const init = createInitiation(c, {
      localStaticPublic: c.x25519Public(iStatic),
      staticStatic: staticStatic(c, iStatic, rStaticPub)!,
      remoteStaticPublic: rStaticPub,
      ephemeralPrivate: fromHex(vector.init_ephemeral),
      payload: new Uint8Array(12),
    })!;
    const args = {
      localStaticPrivate: rStatic,
      localStaticPublic: rStaticPub,
      ephemeralPublic: init.ephemeralPublic,
      encryptedStatic: init.encryptedStatic,
      encryptedPayload: init.encryptedPayload,
      staticStaticFor: (remote: Uint8Array) => staticStatic(c, rStatic, remote),
    };
    expect(consumeInitiation(c, args)).not.toBeNull();
    const flipped = init.encryptedPayload.slice();
    flipped[3]! ^= 1;
    expect(consumeInitiation(c, { ...args, encryptedPayload: flipped })).toBeNull();
    expect(consumeInitiation(c, { ...args, staticStaticFor: () => null })).toBeNull();

    const consumed = consumeInitiation(c, args)!;
    const resp = createResponse(c, {
      state: consumed.state,
      remoteEphemeral: consumed.remoteEphemeral,
      remoteStatic: consumed.remoteStatic,
      ephemeralPrivate: fromHex(vector.resp_ephemeral),
      presharedKey: new Uint8Array(32).fill(7),
    })!;
    const done = consumeResponse(c, {
      state: init.state,
      localEphemeralPrivate: fromHex(vector.init_ephemeral),
      localStaticPrivate: iStatic,
      ephemeralPublic: resp.ephemeralPublic,
      encryptedPayload: resp.encryptedPayload,
      presharedKey: new Uint8Array(32),
    });
    expect(done).toBeNull();
  });
});
