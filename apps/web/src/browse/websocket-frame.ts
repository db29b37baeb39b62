/**
 * RFC 6455 framing for the client side of a WebSocket: frames the client sends are masked; frames
 * from the server are parsed incrementally, fragmented messages reassembled, control frames
 * checked, text checked as UTF-8. Bounded: a frame or a message larger than the limits is refused
 * (close code 1009), never buffered. No extensions are offered, so any RSV bit is an error.
 */

export const OPCODE = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** What the server sent, one whole message or control frame at a time. */
export type ServerEvent =
  | { type: "text"; data: string }
  | { type: "binary"; data: Uint8Array }
  | { type: "ping"; data: Uint8Array }
  | { type: "pong"; data: Uint8Array }
  | { type: "close"; code: number | undefined; reason: string };

/** A protocol violation by the server: the connection is failed with `code` (RFC 6455 §7.4.1). */
export class WebSocketProtocolError extends Error {
  constructor(
    message: string,
    readonly code: 1002 | 1007 | 1009,
  ) {
    super(message);
    this.name = "WebSocketProtocolError";
  }
}

export interface Limits {
  /** Largest payload of one frame, in bytes. */
  maxFrame: number;
  /** Largest message after reassembly, in bytes. */
  maxMessage: number;
}

export const DEFAULT_LIMITS: Limits = { maxFrame: 16 << 20, maxMessage: 16 << 20 };

/**
 * One client frame: FIN set (the client never fragments), masked with `mask` (4 random bytes,
 * from the caller: this module reads no randomness of its own).
 */
export function encodeFrame(opcode: number, payload: Uint8Array, mask: Uint8Array): Uint8Array {
  if (mask.length !== 4) throw new RangeError("the mask is 4 bytes");
  if (opcode >= 0x8 && payload.length > 125) {
    throw new RangeError(`a control frame carries at most 125 bytes, not ${payload.length}`);
  }
  const n = payload.length;
  const lengthBytes = n < 126 ? 0 : n < 0x10000 ? 2 : 8;
  const frame = new Uint8Array(2 + lengthBytes + 4 + n);
  frame[0] = 0x80 | opcode;
  const view = new DataView(frame.buffer);
  if (lengthBytes === 0) frame[1] = 0x80 | n;
  else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    view.setUint16(2, n);
  } else {
    frame[1] = 0x80 | 127;
    view.setBigUint64(2, BigInt(n));
  }
  const at = 2 + lengthBytes;
  frame.set(mask, at);
  for (let i = 0; i < n; i++) frame[at + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return frame;
}

/** A close frame's payload: the code and a UTF-8 reason (at most 123 bytes), or nothing. */
export function closePayload(code?: number, reason = ""): Uint8Array {
  if (code === undefined) return new Uint8Array(0);
  const text = new TextEncoder().encode(reason);
  if (text.length > 123) throw new RangeError("a close reason is at most 123 bytes of UTF-8");
  const out = new Uint8Array(2 + text.length);
  new DataView(out.buffer).setUint16(0, code);
  out.set(text, 2);
  return out;
}

/** Close codes a peer may send (RFC 6455 §7.4; 1004–1006 and 1015 are never on the wire). */
export function validCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function utf8(bytes: Uint8Array, what: string): string {
  try {
    return fatalUtf8.decode(bytes);
  } catch {
    throw new WebSocketProtocolError(`${what} is not valid UTF-8`, 1007);
  }
}

/** Parses the server's byte stream into events; `push` may be given any split of the stream. */
export class FrameDecoder {
  readonly #limits: Limits;
  #buffer: Uint8Array = new Uint8Array(0);
  /** The message being reassembled: its opcode and fragments. */
  #message: { opcode: number; parts: Uint8Array[]; size: number } | undefined;
  #failed = false;

  constructor(limits: Partial<Limits> = {}) {
    this.#limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Bytes held for a frame not yet complete (bounded by the frame limit plus its header). */
  get buffered(): number {
    return this.#buffer.length + (this.#message?.size ?? 0);
  }

  /** The events completed by `bytes`; throws `WebSocketProtocolError` on the first violation. */
  push(bytes: Uint8Array): ServerEvent[] {
    if (this.#failed) throw new Error("the decoder already failed");
    this.#buffer = this.#buffer.length === 0 ? bytes : concat([this.#buffer, bytes]);
    const events: ServerEvent[] = [];
    try {
      for (;;) {
        const event = this.#next();
        if (event === null) break;
        if (event) events.push(event);
      }
    } catch (e) {
      this.#failed = true;
      throw e;
    }
    return events;
  }

  /** One frame off the buffer: an event, undefined (a fragment), or null (need more bytes). */
  #next(): ServerEvent | undefined | null {
    const b = this.#buffer;
    if (b.length < 2) return null;
    const fin = (b[0]! & 0x80) !== 0;
    if (b[0]! & 0x70)
      throw new WebSocketProtocolError("reserved bits set (no extension was negotiated)", 1002);
    const opcode = b[0]! & 0x0f;
    if (b[1]! & 0x80) throw new WebSocketProtocolError("the server masked a frame", 1002);
    let length = b[1]! & 0x7f;
    let at = 2;
    if (length === 126) {
      if (b.length < 4) return null;
      length = (b[2]! << 8) | b[3]!;
      if (length < 126) throw new WebSocketProtocolError("length not in its shortest form", 1002);
      at = 4;
    } else if (length === 127) {
      if (b.length < 10) return null;
      const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const big = view.getBigUint64(2);
      if (big >> 63n) throw new WebSocketProtocolError("64-bit length with its top bit set", 1002);
      if (big < 0x10000n) throw new WebSocketProtocolError("length not in its shortest form", 1002);
      if (big > BigInt(this.#limits.maxFrame)) {
        throw new WebSocketProtocolError(
          `a frame of ${big} bytes is over the limit of ${this.#limits.maxFrame}`,
          1009,
        );
      }
      length = Number(big);
      at = 10;
    }
    const control = opcode >= 0x8;
    if (control) {
      if (!fin) throw new WebSocketProtocolError("a fragmented control frame", 1002);
      if (length > 125) throw new WebSocketProtocolError("a control frame over 125 bytes", 1002);
    }
    if (length > this.#limits.maxFrame) {
      throw new WebSocketProtocolError(
        `a frame of ${length} bytes is over the limit of ${this.#limits.maxFrame}`,
        1009,
      );
    }
    if (![0x0, 0x1, 0x2, 0x8, 0x9, 0xa].includes(opcode)) {
      throw new WebSocketProtocolError(`unknown opcode ${opcode}`, 1002);
    }
    if (b.length < at + length) return null;
    const payload = b.slice(at, at + length);
    this.#buffer = b.subarray(at + length);
    if (control) return controlEvent(opcode, payload);
    return this.#data(opcode, fin, payload);
  }

  #data(opcode: number, fin: boolean, payload: Uint8Array): ServerEvent | undefined {
    if (opcode === OPCODE.continuation) {
      if (!this.#message) throw new WebSocketProtocolError("a continuation with no message", 1002);
    } else {
      if (this.#message)
        throw new WebSocketProtocolError("a new message inside a fragmented one", 1002);
      this.#message = { opcode, parts: [], size: 0 };
    }
    const message = this.#message;
    message.size += payload.length;
    if (message.size > this.#limits.maxMessage) {
      throw new WebSocketProtocolError(
        `a message over the limit of ${this.#limits.maxMessage} bytes`,
        1009,
      );
    }
    message.parts.push(payload);
    if (!fin) return undefined;
    this.#message = undefined;
    const data = message.parts.length === 1 ? message.parts[0]! : concat(message.parts);
    return message.opcode === OPCODE.text
      ? { type: "text", data: utf8(data, "a text message") }
      : { type: "binary", data };
  }
}

function controlEvent(opcode: number, payload: Uint8Array): ServerEvent {
  if (opcode === OPCODE.ping) return { type: "ping", data: payload };
  if (opcode === OPCODE.pong) return { type: "pong", data: payload };
  if (payload.length === 0) return { type: "close", code: undefined, reason: "" };
  if (payload.length === 1) throw new WebSocketProtocolError("a close frame of 1 byte", 1002);
  const code = (payload[0]! << 8) | payload[1]!;
  if (!validCloseCode(code)) throw new WebSocketProtocolError(`close code ${code}`, 1002);
  return { type: "close", code, reason: utf8(payload.subarray(2), "a close reason") };
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
