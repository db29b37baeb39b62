/**
 * WireGuard decoding and decryption with Wireshark's semantics (epan/dissectors/packet-wireguard.c):
 * which UDP payloads count as WireGuard, how messages are linked into sessions by their indices,
 * when `wg.handshake_ok` appears and what it says, and which transport data can be decrypted.
 * Streaming: feed messages in capture order; memory grows with handshakes, not with messages.
 */

import type { CaptureRecord, PacketRecord } from "@wiregate/capture";
import { UdpDecoder, type UdpDecoderOptions } from "@wiregate/capture";
import type { CryptoBackend, MessageType } from "@wiregate/core";
import { summarizePacket } from "@wiregate/packets";
import { Decoded, type DecodedMessage, endpointText } from "./decoded-message.js";
import {
  type Handshake,
  prepareHandshake,
  processInitiation,
  processResponse,
} from "./handshake-decryption.js";
import { base64Key, type KeyMaterial } from "./keys.js";

export interface DecoderOptions extends UdpDecoderOptions {
  keys?: KeyMaterial;
  /** Keep the decrypted inner packet on each record (replay needs it). */
  keepPlaintext?: boolean;
  /** Keep a copy of the message bytes on each record. */
  keepPayload?: boolean;
  /** Add secrets embedded in the capture (pcapng DSB) to `keys` (default true). */
  useEmbeddedSecrets?: boolean;
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
        hs = prepareHandshake(keys, skeyR, p);
        if (hs) processInitiation(keys, hs, p);
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
      processResponse(this.#keys!, session.hs, p);
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
