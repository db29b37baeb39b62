/**
 * WireGuard decoding and decryption with Wireshark's semantics (epan/dissectors/packet-wireguard.c):
 * which UDP payloads count as WireGuard, how messages are linked into sessions by their indices,
 * when `wg.handshake_ok` appears and what it says, and which transport data can be decrypted.
 * Streaming: feed messages in capture order; memory grows with handshakes, not with messages.
 */

import type { CaptureRecord, PacketRecord } from "@wiregate/capture";
import { UdpDecoder, type UdpDecoderOptions } from "@wiregate/capture";
import {
  type CryptoBackend,
  initialState,
  kdf1,
  kdf2,
  kdf3,
  type MessageType,
} from "@wiregate/core";
import { summarizePacket } from "@wiregate/packets";
import { base64Key, type EphemeralKey, type KeyMaterial, type StaticKey } from "./keys.js";

export type { MessageType };
export const TYPE_NAMES: Record<MessageType, string> = {
  1: "initiation",
  2: "response",
  3: "cookie-reply",
  4: "transport",
};

/** One WireGuard message as decoded (and, with keys, decrypted). */
export interface DecodedMessage {
  /** frame.number */
  frame: number;
  /** Capture timestamp, ns since the Unix epoch. */
  timestampNs: bigint;
  /** Seconds since the first frame of the capture (frame.time_relative). */
  time: number;
  ipVersion: 4 | 6;
  srcAddress: string;
  srcPort: number;
  dstAddress: string;
  dstPort: number;
  /** "addr:port" ("[v6]:port"). */
  src: string;
  dst: string;
  type: MessageType;
  /** Length of the WireGuard message (the UDP payload). */
  length: number;
  sender?: number;
  receiver?: number;
  counter?: bigint;
  /** wg.ephemeral (base64), initiations and responses. */
  ephemeral?: string;
  /** wg.static: the initiator's static public key, decrypted from an initiation. */
  static?: string;
  /** Decrypted TAI64N timestamp of an initiation. */
  timestamp?: { tai64Label: bigint; nanoseconds: number };
  /** wg.handshake_ok: on responses whose initiation had decryptable key material. */
  handshakeOk?: boolean;
  /** wg.receiver_pubkey: the receiver's static key, found by mac1. */
  receiverPubkey?: string;
  /** wg.stream: the session this message belongs to. */
  stream?: number;
  /** wg.response_to: frame of the initiation a response or cookie reply answers. */
  responseTo?: number;
  /** Transport data of exactly 32 bytes (wg.keepalive). */
  keepalive?: boolean;
  /** Transport: true decrypted, false decryption failed (wg.decryption_error), absent: no keys. */
  decrypted?: boolean;
  /** One-line summary of the decrypted inner packet ("keepalive" for an empty one). */
  inner?: string;
  /** Decrypted inner packet (only with `keepPlaintext`). */
  plaintext?: Uint8Array;
  /** The WireGuard message bytes (only with `keepPayload`). */
  payload?: Uint8Array;
}

export interface DecoderOptions extends UdpDecoderOptions {
  keys?: KeyMaterial;
  /** Keep the decrypted inner packet on each record (replay needs it). */
  keepPlaintext?: boolean;
  /** Keep a copy of the message bytes on each record. */
  keepPayload?: boolean;
  /** Add secrets embedded in the capture (pcapng DSB) to `keys` (default true). */
  useEmbeddedSecrets?: boolean;
}

interface Handshake {
  responderSkey: StaticKey;
  initiatorEkey: EphemeralKey;
  initiatorSkey: StaticKey | { publicKey: Uint8Array; privateKey: Uint8Array | null } | null;
  timestamp: Uint8Array | null;
  emptyOk: boolean;
  hash: Uint8Array;
  chainKey: Uint8Array;
  initiatorRecv: Uint8Array | null;
  responderRecv: Uint8Array | null;
  responded: boolean;
}

interface Session {
  stream: number;
  initiatorFrame: number;
  responseFrame: number;
  initiatorAddress: string;
  initiatorPort: number;
  responderAddress: string;
  responderPort: number;
  hs: Handshake | null;
}

const EMPTY = new Uint8Array(0);
const ZERO32 = new Uint8Array(32);

/** A decoded message; `src` / `dst` text is built only when asked for (not on the hot path). */
class Decoded implements DecodedMessage {
  declare sender?: number;
  declare receiver?: number;
  declare ephemeral?: string;
  declare static?: string;
  declare timestamp?: { tai64Label: bigint; nanoseconds: number };
  declare handshakeOk?: boolean;
  declare receiverPubkey?: string;
  declare stream?: number;
  declare responseTo?: number;
  declare keepalive?: boolean;
  declare decrypted?: boolean;
  declare inner?: string;
  declare plaintext?: Uint8Array;
  declare payload?: Uint8Array;
  /** Transport counter halves (-1: not transport); the bigint is made only when asked for. */
  counterLow = -1;
  counterHigh = 0;
  #src: string | undefined;
  #dst: string | undefined;
  constructor(
    readonly frame: number,
    readonly timestampNs: bigint,
    readonly time: number,
    readonly ipVersion: 4 | 6,
    readonly srcAddress: string,
    readonly srcPort: number,
    readonly dstAddress: string,
    readonly dstPort: number,
    readonly type: MessageType,
    readonly length: number,
  ) {}
  get counter(): bigint | undefined {
    if (this.counterLow < 0) return undefined;
    return this.counterHigh === 0
      ? BigInt(this.counterLow)
      : (BigInt(this.counterHigh) << 32n) | BigInt(this.counterLow);
  }
  /** The counter as decimal text, without a bigint when it fits in 32 bits. */
  counterText(): string {
    if (this.counterLow < 0) return "";
    return this.counterHigh === 0 ? String(this.counterLow) : this.counter!.toString();
  }
  get src(): string {
    this.#src ??= endpointText(this.srcAddress, this.srcPort);
    return this.#src;
  }
  get dst(): string {
    this.#dst ??= endpointText(this.dstAddress, this.dstPort);
    return this.#dst;
  }
}

function endpointText(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** Is this UDP payload WireGuard as Wireshark sees it? (type, length, reserved bytes, conversation) */
export function wiresharkMessageType(
  payload: Uint8Array,
  inConversation: boolean,
): MessageType | 0 {
  const length = payload.length;
  if (length < 4) return 0;
  const type = payload[0]!;
  let valid: boolean;
  switch (type) {
    case 1:
      valid = length === 148;
      break;
    case 2:
      valid = length === 92;
      break;
    case 3:
      valid = length === 64;
      break;
    case 4:
      valid = length >= 32;
      break;
    default:
      return 0;
  }
  if (!valid) return 0;
  // Reserved bytes are only checked for cookie replies and data, and not inside a conversation a
  // handshake initiation already claimed.
  if ((type === 3 || type === 4) && !inConversation) {
    if (payload[1] !== 0 || payload[2] !== 0 || payload[3] !== 0) return 0;
  }
  return type as MessageType;
}

/**
 * Stateful decoder. `packet()` takes capture records in order and returns the WireGuard message in
 * a frame (or undefined); `secrets()` takes embedded key logs.
 */
export class WireGuardDecoder {
  readonly #keys: KeyMaterial | undefined;
  readonly #c: CryptoBackend | undefined;
  readonly #udp: UdpDecoder;
  readonly #keepPlaintext: boolean;
  readonly #keepPayload: boolean;
  readonly #useEmbedded: boolean;
  readonly #sessions = new Map<number, Session[]>();
  readonly #conversations = new Set<string>();
  #streams = 0;
  #firstNs: bigint | undefined;
  #firstTime = 0;
  /** WireGuard messages decoded so far. */
  messages = 0;
  /** Frames seen so far. */
  frames = 0;

  constructor(options: DecoderOptions = {}) {
    this.#keys = options.keys;
    this.#c = options.keys?.crypto;
    this.#udp = new UdpDecoder(options);
    this.#keepPlaintext = options.keepPlaintext ?? false;
    this.#keepPayload = options.keepPayload ?? false;
    this.#useEmbedded = options.useEmbeddedSecrets ?? true;
  }

  /** An embedded Decryption Secrets Block (WireGuard type) — processed as Wireshark does. */
  secrets(text: string): void {
    if (this.#useEmbedded && this.#keys) this.#keys.addKeyLog(text, "embedded secrets");
  }

  /** Feeds one capture record; returns the decoded WireGuard message it carries, if any. */
  record(record: CaptureRecord): DecodedMessage | undefined {
    if (record.kind === "packet") return this.packet(record);
    if (record.kind === "secrets" && record.type === 0x57474b4c && record.text !== undefined) {
      this.secrets(record.text);
    }
    return undefined;
  }

  packet(record: PacketRecord): DecodedMessage | undefined {
    this.frames++;
    if (this.#firstNs === undefined) {
      this.#firstNs = record.timestampNs;
      this.#firstTime = record.time;
    }
    const frame = this.#udp.decodeRecord(record);
    if (frame.kind !== "udp") return undefined;
    const payload = frame.payload;
    if (payload.length < 4 || payload[0]! < 1 || payload[0]! > 4) return undefined;
    // The conversation matters only for initiations (which claim it) and for cookie replies and
    // data with non-zero reserved bytes (accepted only inside a claimed conversation).
    const first = payload[0]!;
    const needsConversation =
      first === 1 || (first >= 3 && (payload[1]! | payload[2]! | payload[3]!) !== 0);
    let conversationKey = "";
    if (needsConversation) {
      const src = endpointText(frame.src.address, frame.src.port);
      const dst = endpointText(frame.dst.address, frame.dst.port);
      conversationKey = src < dst ? `${src}|${dst}` : `${dst}|${src}`;
    }
    const type = wiresharkMessageType(
      payload,
      needsConversation && this.#conversations.has(conversationKey),
    );
    if (type === 0) return undefined;
    if (type === 1) this.#conversations.add(conversationKey);
    this.messages++;
    // Doubles here (no BigInt arithmetic per message).
    const m = new Decoded(
      record.index,
      record.timestampNs,
      record.time - this.#firstTime,
      frame.ipVersion,
      frame.src.address,
      frame.src.port,
      frame.dst.address,
      frame.dst.port,
      type,
      payload.length,
    );
    if (this.#keepPayload) m.payload = payload.slice();
    switch (type) {
      case 1:
        this.#initiation(m, payload);
        break;
      case 2:
        this.#response(m, payload);
        break;
      case 3:
        this.#cookie(m, payload);
        break;
      case 4:
        this.#transport(m, payload);
        break;
    }
    return m;
  }

  #insert(id: number, session: Session): void {
    const list = this.#sessions.get(id);
    if (list) {
      list.push(session);
      // Bounded: only the most recent sessions of an index are ever looked up in practice.
      if (list.length > 64) list.shift();
    } else this.#sessions.set(id, [session]);
  }

  /** wg_sessions_lookup_initiation: newest initiation to this receiver not yet answered elsewhere. */
  #lookupInitiation(
    receiver: number,
    dstAddress: string,
    dstPort: number,
    frame: number,
  ): Session | undefined {
    const list = this.#sessions.get(receiver);
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const s = list[i]!;
      if (s.initiatorPort !== dstPort || s.initiatorAddress !== dstAddress) continue;
      if (s.responseFrame !== 0 && s.responseFrame !== frame) continue;
      return s;
    }
    return undefined;
  }

  #initiation(m: DecodedMessage, p: Uint8Array): void {
    const sender = u32(p, 4);
    m.sender = sender;
    m.ephemeral = base64Key(p.subarray(8, 40));
    let hs: Handshake | null = null;
    const keys = this.#keys;
    if (keys && keys.size > 0) {
      const skeyR = keys.probeMac1(p);
      if (skeyR) {
        m.receiverPubkey = base64Key(skeyR.publicKey);
        hs = this.#prepareHandshake(skeyR, p);
        if (hs) this.#processInitiation(hs, p);
      }
    }
    if (hs?.initiatorSkey) m.static = base64Key(hs.initiatorSkey.publicKey);
    if (hs?.timestamp) {
      const view = new DataView(hs.timestamp.buffer, hs.timestamp.byteOffset, 12);
      m.timestamp = {
        tai64Label: view.getBigUint64(0, false),
        nanoseconds: view.getUint32(8, false),
      };
    }
    const session: Session = {
      stream: this.#streams++,
      initiatorFrame: m.frame,
      responseFrame: 0,
      initiatorAddress: m.srcAddress,
      initiatorPort: m.srcPort,
      responderAddress: "",
      responderPort: -1,
      hs,
    };
    this.#insert(sender, session);
    m.stream = session.stream;
  }

  #prepareHandshake(skeyR: StaticKey, p: Uint8Array): Handshake | null {
    const keys = this.#keys!;
    const ephemeralPublic = p.subarray(8, 40);
    let ekeyI = keys.ephemeral(ephemeralPublic);
    if (!skeyR.privateKey && !ekeyI) return null;
    if (!ekeyI) ekeyI = { publicKey: ephemeralPublic.slice(), privateKey: null, psks: [] };
    return {
      responderSkey: skeyR,
      initiatorEkey: ekeyI,
      initiatorSkey: null,
      timestamp: null,
      emptyOk: false,
      hash: ZERO32,
      chainKey: ZERO32,
      initiatorRecv: null,
      responderRecv: null,
      responded: false,
    };
  }

  #processInitiation(hs: Handshake, p: Uint8Array): void {
    const c = this.#c!;
    const hasSprivR = hs.responderSkey.privateKey !== null;
    const hasEprivI = hs.initiatorEkey.privateKey !== null;
    if (!hasSprivR && !hasEprivI) return;
    const ephemeral = p.subarray(8, 40);
    const encryptedStatic = p.subarray(40, 88);
    const encryptedTimestamp = p.subarray(88, 116);
    let { chainKey, hash } = initialState(c, hs.responderSkey.publicKey);
    chainKey = kdf1(c, chainKey, ephemeral);
    hash = c.hash(hash, ephemeral);
    const dh1 = hasSprivR
      ? c.x25519(hs.responderSkey.privateKey!, ephemeral)
      : c.x25519(hs.initiatorEkey.privateKey!, hs.responderSkey.publicKey);
    let key: Uint8Array;
    [chainKey, key] = kdf2(c, chainKey, dh1);
    const staticPublic = c.open(key, 0n, encryptedStatic, hash);
    if (!staticPublic) return;
    const known = this.#keys!.statics.get(hexKey(staticPublic));
    hs.initiatorSkey = known ?? { publicKey: staticPublic, privateKey: null };
    if (!hasSprivR && !hs.initiatorSkey.privateKey) return;
    hash = c.hash(hash, encryptedStatic);
    const dh2 = hasSprivR
      ? c.x25519(hs.responderSkey.privateKey!, hs.initiatorSkey.publicKey)
      : c.x25519(hs.initiatorSkey.privateKey!, hs.responderSkey.publicKey);
    [chainKey, key] = kdf2(c, chainKey, dh2);
    const timestamp = c.open(key, 0n, encryptedTimestamp, hash);
    if (!timestamp) return;
    hs.timestamp = timestamp;
    hash = c.hash(hash, encryptedTimestamp);
    hs.hash = hash;
    hs.chainKey = chainKey;
  }

  #response(m: DecodedMessage, p: Uint8Array): void {
    const sender = u32(p, 4);
    const receiver = u32(p, 8);
    m.sender = sender;
    m.receiver = receiver;
    m.ephemeral = base64Key(p.subarray(12, 44));
    const keys = this.#keys;
    if (keys && keys.size > 0) {
      const skeyI = keys.probeMac1(p);
      if (skeyI) m.receiverPubkey = base64Key(skeyI.publicKey);
    }
    const session = this.#lookupInitiation(receiver, m.dstAddress, m.dstPort, m.frame);
    if (session?.hs) {
      // Wireshark asserts the initiator's static key is known here; without it the dissection of
      // this frame stops before handshake_ok and before the response is linked.
      if (!session.hs.initiatorSkey) return;
      this.#processResponse(session.hs, p);
      m.handshakeOk = session.hs.emptyOk;
    }
    if (session) {
      session.responseFrame = m.frame;
      session.responderAddress = m.srcAddress;
      session.responderPort = m.srcPort;
      this.#insert(sender, session);
      m.stream = session.stream;
      m.responseTo = session.initiatorFrame;
    }
  }

  #processResponse(hs: Handshake, p: Uint8Array): void {
    if (hs.responded) return; // "multiple responses linked to a single session"
    const c = this.#c!;
    const keys = this.#keys!;
    const ephemeral = p.subarray(12, 44);
    const encryptedEmpty = p.subarray(44, 60);
    const ekeyR = keys.ephemeral(ephemeral) ?? {
      publicKey: ephemeral.slice(),
      privateKey: null,
      psks: [],
    };
    const skeyI = hs.initiatorSkey!;
    const hasEprivI = hs.initiatorEkey.privateKey !== null;
    const hasSprivI = skeyI.privateKey !== null;
    const hasEprivR = ekeyR.privateKey !== null;
    if (!(hasEprivI && hasSprivI) && !hasEprivR) return;
    let chainKey = kdf1(c, hs.chainKey, ephemeral);
    const hashBase = c.hash(hs.hash, ephemeral);
    const asInitiator = hasEprivI && hasSprivI;
    const dh1 = asInitiator
      ? c.x25519(hs.initiatorEkey.privateKey!, ephemeral)
      : c.x25519(ekeyR.privateKey!, hs.initiatorEkey.publicKey);
    chainKey = kdf1(c, chainKey, dh1);
    const dh2 = asInitiator
      ? c.x25519(skeyI.privateKey!, ephemeral)
      : c.x25519(ekeyR.privateKey!, skeyI.publicKey);
    chainKey = kdf1(c, chainKey, dh2);
    const candidates = [...hs.initiatorEkey.psks, ...ekeyR.psks, ZERO32];
    for (const psk of candidates) {
      const [ck, tau, key] = kdf3(c, chainKey, psk);
      const hash = c.hash(hashBase, tau);
      if (c.open(key, 0n, encryptedEmpty, hash) === null) continue;
      hs.emptyOk = true;
      const [initiatorToResponder, responderToInitiator] = kdf2(c, ck, EMPTY);
      hs.initiatorRecv = responderToInitiator;
      hs.responderRecv = initiatorToResponder;
      hs.responded = true;
      return;
    }
  }

  #cookie(m: DecodedMessage, p: Uint8Array): void {
    const receiver = u32(p, 4);
    m.receiver = receiver;
    const session = this.#lookupInitiation(receiver, m.dstAddress, m.dstPort, m.frame);
    if (session) {
      session.responseFrame = m.frame;
      session.responderAddress = m.srcAddress;
      session.responderPort = m.srcPort;
      m.stream = session.stream;
      m.responseTo = session.initiatorFrame;
    }
  }

  #transport(m: Decoded, p: Uint8Array): void {
    const receiver = u32(p, 4);
    m.receiver = receiver;
    m.counterLow = u32(p, 8);
    m.counterHigh = u32(p, 12);
    if (p.length === 32) m.keepalive = true;
    const list = this.#sessions.get(receiver);
    if (!list) return;
    let session: Session | undefined;
    let receiverIsInitiator = false;
    for (let i = list.length - 1; i >= 0; i--) {
      const s = list[i]!;
      if (s.responseFrame === 0) continue;
      if (s.initiatorPort === m.dstPort && s.initiatorAddress === m.dstAddress)
        receiverIsInitiator = true;
      else if (s.responderPort === m.dstPort && s.responderAddress === m.dstAddress)
        receiverIsInitiator = false;
      else continue;
      session = s;
      break;
    }
    if (!session) return;
    if (receiverIsInitiator) {
      session.responderAddress = m.srcAddress;
      session.responderPort = m.srcPort;
    } else {
      session.initiatorAddress = m.srcAddress;
      session.initiatorPort = m.srcPort;
    }
    m.stream = session.stream;
    const hs = session.hs;
    if (!hs) return;
    const key = receiverIsInitiator ? hs.initiatorRecv : hs.responderRecv;
    if (!key) return;
    const plain = this.#c!.open(key, m.counter!, p.subarray(16), EMPTY);
    if (plain === null) {
      m.decrypted = false;
      return;
    }
    m.decrypted = true;
    m.inner = summarizePacket(plain);
    if (this.#keepPlaintext) m.plaintext = plain;
  }
}

function hexKey(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += (bytes[i]! + 0x100).toString(16).slice(1);
  return out;
}

const HEX_BYTE: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** 0x-prefixed 8-digit lowercase hex, as tshark prints wg.sender / wg.receiver. */
export function hex32(value: number): string {
  return (
    "0x" +
    HEX_BYTE[(value >>> 24) & 0xff]! +
    HEX_BYTE[(value >>> 16) & 0xff]! +
    HEX_BYTE[(value >>> 8) & 0xff]! +
    HEX_BYTE[value & 0xff]!
  );
}

/** Fields `fieldValue` can print, tshark-style (`-T fields -e …`). */
export const FIELD_NAMES = [
  "frame.number",
  "frame.time_epoch",
  "frame.time_relative",
  "ip.src",
  "ip.dst",
  "udp.srcport",
  "udp.dstport",
  "wg.type",
  "wg.sender",
  "wg.receiver",
  "wg.counter",
  "wg.ephemeral",
  "wg.static",
  "wg.timestamp.value",
  "wg.handshake_ok",
  "wg.receiver_pubkey",
  "wg.stream",
  "wg.response_to",
  "wg.keepalive",
  "inner",
] as const;

/** One field as tshark -T fields prints it ("" when absent; booleans as 1/0). */
export function fieldValue(m: DecodedMessage, name: string): string {
  switch (name) {
    case "frame.number":
      return String(m.frame);
    case "frame.time_epoch":
      return epochText(m.timestampNs);
    case "frame.time_relative":
      return m.time.toFixed(6);
    case "ip.src":
      return m.srcAddress;
    case "ip.dst":
      return m.dstAddress;
    case "udp.srcport":
      return String(m.srcPort);
    case "udp.dstport":
      return String(m.dstPort);
    case "wg.type":
      return TYPE_DIGITS[m.type]!;
    case "wg.sender":
      return m.sender === undefined ? "" : hex32(m.sender);
    case "wg.receiver":
      return m.receiver === undefined ? "" : hex32(m.receiver);
    case "wg.counter":
      return m.counter === undefined ? "" : m.counter.toString();
    case "wg.ephemeral":
      return m.ephemeral ?? "";
    case "wg.static":
      return m.static ?? "";
    case "wg.timestamp.value":
      return m.timestamp ? (tai64nToIso(m.timestamp) ?? "") : "";
    case "wg.handshake_ok":
      return m.handshakeOk === undefined ? "" : m.handshakeOk ? "1" : "0";
    case "wg.receiver_pubkey":
      return m.receiverPubkey ?? "";
    case "wg.stream":
      return m.stream === undefined ? "" : String(m.stream);
    case "wg.response_to":
      return m.responseTo === undefined ? "" : String(m.responseTo);
    case "wg.keepalive":
      return m.keepalive ? "1" : "";
    case "inner":
      return m.inner ?? "";
    default:
      return "";
  }
}

const TYPE_DIGITS = ["", "1", "2", "3", "4"];

/** A field printer bound once (no name dispatch per message), for tshark-style output. */
export function fieldGetter(name: string): (m: DecodedMessage) => string {
  switch (name) {
    case "wg.type":
      return (m) => TYPE_DIGITS[m.type]!;
    case "wg.sender":
      return (m) => (m.sender === undefined ? "" : hex32(m.sender));
    case "wg.receiver":
      return (m) => (m.receiver === undefined ? "" : hex32(m.receiver));
    case "wg.counter":
      return (m) =>
        m instanceof Decoded
          ? m.counterText()
          : m.counter === undefined
            ? ""
            : m.counter.toString();
    default:
      return (m) => fieldValue(m, name);
  }
}

/** TAI64N label + nanoseconds → ISO 8601 UTC with nanoseconds; undefined when out of range. */
export function tai64nToIso(t: { tai64Label: bigint; nanoseconds: number }): string | undefined {
  const base = 1n << 62n;
  if (t.tai64Label < base || t.tai64Label >= 1n << 63n || t.nanoseconds > 999_999_999)
    return undefined;
  const seconds = t.tai64Label - base;
  const date = new Date(Number(seconds) * 1000);
  if (Number.isNaN(date.getTime())) return undefined;
  return `${date.toISOString().slice(0, 19)}.${String(t.nanoseconds).padStart(9, "0")}Z`;
}

/** The record as an object keyed by Wireshark field names (what `--json` prints, one per line). */
export function toWiresharkFields(m: DecodedMessage): Record<string, unknown> {
  const ip = m.ipVersion === 4 ? "ip" : "ipv6";
  const o: Record<string, unknown> = {
    "frame.number": m.frame,
    "frame.time_epoch": epochText(m.timestampNs),
    "frame.time_relative": Number(m.time.toFixed(6)),
    [`${ip}.src`]: m.srcAddress,
    "udp.srcport": m.srcPort,
    [`${ip}.dst`]: m.dstAddress,
    "udp.dstport": m.dstPort,
    "wg.type": m.type,
    "wg.type.name": TYPE_NAMES[m.type],
    "udp.length": m.length + 8,
  };
  if (m.sender !== undefined) o["wg.sender"] = hex32(m.sender);
  if (m.receiver !== undefined) o["wg.receiver"] = hex32(m.receiver);
  if (m.counter !== undefined) {
    o["wg.counter"] =
      m.counter <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(m.counter) : m.counter.toString();
  }
  if (m.ephemeral !== undefined) o["wg.ephemeral"] = m.ephemeral;
  if (m.static !== undefined) o["wg.static"] = m.static;
  if (m.timestamp !== undefined) {
    const iso = tai64nToIso(m.timestamp);
    if (iso) o["wg.timestamp.value"] = iso;
    o["wg.timestamp.tai64_label"] = m.timestamp.tai64Label.toString();
    o["wg.timestamp.nanoseconds"] = m.timestamp.nanoseconds;
  }
  if (m.handshakeOk !== undefined) o["wg.handshake_ok"] = m.handshakeOk;
  if (m.receiverPubkey !== undefined) o["wg.receiver_pubkey"] = m.receiverPubkey;
  if (m.stream !== undefined) o["wg.stream"] = m.stream;
  if (m.responseTo !== undefined) o["wg.response_to"] = m.responseTo;
  if (m.keepalive) o["wg.keepalive"] = true;
  if (m.decrypted === false) o["wg.decryption_error"] = true;
  if (m.inner !== undefined) o.inner = m.inner;
  return o;
}

function epochText(ns: bigint): string {
  const s = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  return `${s}.${frac.toString().padStart(9, "0")}`;
}

function shortKey(key: string): string {
  return `${key.slice(0, 4)}…${key.slice(39, 43)}`;
}

/** One human-readable line per message. */
export function formatMessageLine(m: DecodedMessage): string {
  let line = `${String(m.frame).padStart(6)} ${m.time.toFixed(6).padStart(11)}  ${m.src} → ${m.dst}  ${TYPE_NAMES[m.type]}`;
  if (m.sender !== undefined) line += ` sender=${hex32(m.sender)}`;
  if (m.receiver !== undefined) line += ` receiver=${hex32(m.receiver)}`;
  if (m.counter !== undefined) line += ` counter=${m.counter}`;
  line += ` len=${m.length}`;
  if (m.static !== undefined) line += ` static=${shortKey(m.static)}`;
  if (m.timestamp !== undefined) line += ` ts=${tai64nToIso(m.timestamp) ?? "invalid"}`;
  if (m.handshakeOk !== undefined) line += ` handshake_ok=${m.handshakeOk ? 1 : 0}`;
  if (m.responseTo !== undefined && m.type !== 4) line += ` response_to=${m.responseTo}`;
  if (m.decrypted === false) line += " (decryption failed)";
  if (m.inner !== undefined) line += `  ${m.inner}`;
  else if (m.keepalive) line += "  keepalive";
  return line;
}
