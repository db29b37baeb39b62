/**
 * Control frames exchanged between a client and the relay on one WebTransport bidirectional stream.
 *
 * Wire format: a 4-byte big-endian length, then that many bytes of UTF-8 JSON (one object).
 * Decoding never throws on peer bytes: every rejection names the frame field and the reason.
 */

export const PROTOCOL_VERSION = 1;
/** Largest frame body; a control frame is small, anything bigger is hostile or broken. */
export const MAX_FRAME_SIZE = 16 * 1024;
export const FRAME_HEADER_SIZE = 4;
/** A hello's token: a signed token (JWT) with an identity provider's claims is often over 1 KiB. */
export const MAX_TOKEN_LENGTH = 8192;

export type RelayTransport = "http3" | "http2" | "websocket";
export const RELAY_TRANSPORTS: readonly RelayTransport[] = ["http3", "http2", "websocket"];

/**
 * How a session carries WireGuard messages: one per datagram (a message too large for a datagram
 * still takes the message stream), or every message on the message stream (message-stream.ts).
 */
export type Carriage = "datagrams" | "stream";
/** What a client may ask for: a carriage, or `auto` (the relay picks, and says why). */
export type CarriageChoice = Carriage | "auto";
export const CARRIAGE_CHOICES: readonly CarriageChoice[] = ["datagrams", "stream", "auto"];

export type ErrorCode =
  | "unauthorized"
  /** The signed token expired (at the hello, or during the session): a new token opens a new one. */
  | "token-expired"
  /** The token is valid but its claims do not let it reach this upstream (or no more sessions). */
  | "forbidden"
  | "unknown-upstream"
  | "upstream-unreachable"
  | "limit"
  | "oversized"
  | "bad-hello"
  /** A control frame after the welcome that the relay could not read; the session closes. */
  | "bad-frame"
  | "version"
  | "idle"
  | "shutdown"
  | "internal";
export const ERROR_CODES: readonly ErrorCode[] = [
  "unauthorized",
  "token-expired",
  "forbidden",
  "unknown-upstream",
  "upstream-unreachable",
  "limit",
  "oversized",
  "bad-hello",
  "bad-frame",
  "version",
  "idle",
  "shutdown",
  "internal",
];

/** Client → relay, first frame: who is asking and which upstream it wants. */
export interface HelloFrame {
  type: "hello";
  version: number;
  /** A shared bearer token, or a signed token (JWT) of the relay's issuer. */
  token?: string;
  upstream: string;
  /**
   * The client's WireGuard public key (base64): a hint for an upstream that hands out tunnel
   * addresses (the demo peer), answered in the welcome's `addresses`. Nothing is trusted on it:
   * the WireGuard handshake, not this, proves the key.
   */
  publicKey?: string;
  /** The carriage the client asks for; absent: `datagrams` (clients from before the stream). */
  carriage?: CarriageChoice;
}

/** Relay → client: the session is open. */
export interface WelcomeFrame {
  type: "welcome";
  sessionId: string;
  transport: RelayTransport;
  /** Largest WireGuard message that fits one datagram of this session. */
  datagramSize: number;
  /**
   * Largest WireGuard message this session carries: the client's MTU budget. When it exceeds
   * `datagramSize`, larger messages travel on the message stream (see message-stream.ts).
   * Absent: equal to `datagramSize`.
   */
  messageSize?: number;
  /** The upstream's WireGuard public key (base64), when the relay's configuration names it. */
  upstreamPublicKey?: string;
  /**
   * Tunnel addresses (CIDR, like "10.99.0.7/32") the upstream assigned to the hello's
   * `publicKey`: the client's interface addresses. Absent when the upstream assigns none.
   */
  addresses?: string[];
  /**
   * The carriage of this session's messages, both ways; absent: `datagrams`. With `stream` the
   * client opens the message stream right after the welcome and sends every message on it.
   */
  carriage?: Carriage;
  /** Why this carriage (the relay's answer to `auto`, or that the client asked for it). */
  carriageReason?: string;
  /**
   * The relay closes the session after this long without anything from the client (its
   * `idleTimeoutMs`): a client that wants to keep the session sends a keepalive more often.
   */
  idleTimeoutMs?: number;
  /**
   * What the client's page sends to close this session by beacon when it goes away (`POST
   * <path>/close`, body `<sessionId> <closeToken>`): 32 hex digits, known only to this client.
   */
  closeToken?: string;
}

/** Relay → client: something went wrong; fatal unless the code is `oversized` or `limit`. */
export interface ErrorFrame {
  type: "error";
  code: ErrorCode;
  message: string;
  /** The limit that was exceeded, when there is one (bytes for `oversized`). */
  limit?: number;
}

/**
 * The relay's `bad-hello` messages when a step before the hello did not come in time: a matter of
 * timing (a client starved or stopped between connecting and its hello), not of the hello's
 * content, so unlike other refusals a later attempt may well be welcomed.
 */
export const LATE_HELLO = {
  notReady: "session not ready in time",
  noControlStream: "no control stream in time",
  noHello: "no hello in time",
} as const;

/** Whether `frame` is a refusal for a hello that came too late (`LATE_HELLO`). */
export function isLateHello(frame: Pick<ErrorFrame, "code" | "message">): boolean {
  return (
    frame.code === "bad-hello" && (Object.values(LATE_HELLO) as string[]).includes(frame.message)
  );
}

/** Client → relay: please send a `stats` frame. */
export interface StatsRequestFrame {
  type: "stats-request";
}

export interface DirectionStats {
  datagrams: number;
  bytes: number;
}

/**
 * Datagrams the relay's own transport lost, read from its WebTransport session's `getStats()`:
 * after the relay handed them over, out of the relay's sight. Zero over HTTP/2 (reliable).
 */
export interface RelayTransportLosses {
  /** Toward the client: waited too long in the relay's QUIC send queue and were discarded. */
  expiredToClient: number;
  /** Toward the client: sent, and declared lost by the relay's QUIC. */
  lostToClient: number;
  /** From the client: dropped on arrival at the relay before it read them. */
  droppedFromClient: number;
}

/** Relay → client: counters of this session. */
export interface StatsFrame {
  type: "stats";
  /** Client → upstream. */
  toUpstream: DirectionStats;
  /** Upstream → client. */
  toClient: DirectionStats;
  /** Dropped datagrams by reason (both directions). */
  drops: Record<string, number>;
  /** The relay transport's own losses; absent from a relay that does not read them. */
  transportLosses?: RelayTransportLosses;
}

export type ControlFrame = HelloFrame | WelcomeFrame | ErrorFrame | StatsRequestFrame | StatsFrame;

export interface FrameError {
  ok: false;
  reason: "too-large" | "not-utf8" | "not-json" | "not-object" | "unknown-type" | "bad-field";
  detail: string;
}

export type FrameResult = { ok: true; frame: ControlFrame } | FrameError;

const encoder = new TextEncoder();

/** Encodes one frame with its length prefix. Throws RangeError only for a caller's oversized frame. */
export function encodeFrame(frame: ControlFrame): Uint8Array {
  const body = encoder.encode(JSON.stringify(frame));
  if (body.length > MAX_FRAME_SIZE) {
    throw new RangeError(`encodeFrame: frame is ${body.length} bytes, limit ${MAX_FRAME_SIZE}`);
  }
  const out = new Uint8Array(FRAME_HEADER_SIZE + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, FRAME_HEADER_SIZE);
  return out;
}

function fail(reason: FrameError["reason"], detail: string): FrameError {
  return { ok: false, reason, detail };
}

type Fields = Record<string, unknown>;

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isShortString(value: unknown, max: number): value is string {
  return typeof value === "string" && value.length <= max;
}

const UPSTREAM_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const WIREGUARD_KEY = /^[A-Za-z0-9+/]{43}=$/;
/** An IPv4 or IPv6 prefix as text; clients parse it properly before use. */
const ADDRESS = /^[0-9A-Fa-f.:]{2,45}\/\d{1,3}$/;
/** A welcome's `closeToken`: 128 random bits in hex. */
export const CLOSE_TOKEN = /^[0-9a-f]{32}$/;
/** Where a page's close beacon goes: `/close` beside the relay's WebTransport path (or URL). */
export const closeBeaconPath = (relay: string) => `${relay.replace(/\/+$/, "")}/close`;
const MAX_ADDRESSES = 8;
const DROP_REASON = /^[a-z0-9-]{1,64}$/;

function checkDirection(value: unknown, field: string): string | DirectionStats {
  if (typeof value !== "object" || value === null) return `${field} must be an object`;
  const d = value as Fields;
  if (!isCount(d.datagrams)) return `${field}.datagrams must be a non-negative integer`;
  if (!isCount(d.bytes)) return `${field}.bytes must be a non-negative integer`;
  return { datagrams: d.datagrams, bytes: d.bytes };
}

const TRANSPORT_LOSSES = ["expiredToClient", "lostToClient", "droppedFromClient"] as const;

function checkTransportLosses(value: unknown): string | RelayTransportLosses {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return "transportLosses must be an object";
  const l = value as Fields;
  for (const key of TRANSPORT_LOSSES)
    if (!isCount(l[key])) return `transportLosses.${key} must be a non-negative integer`;
  return {
    expiredToClient: l.expiredToClient as number,
    lostToClient: l.lostToClient as number,
    droppedFromClient: l.droppedFromClient as number,
  };
}

/** Validates a parsed JSON value as a control frame, copying only the known fields. */
export function validateFrame(value: unknown): FrameResult {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail("not-object", "a frame must be a JSON object");
  }
  const f = value as Fields;
  const bad = (detail: string) => fail("bad-field", `${String(f.type)}: ${detail}`);
  switch (f.type) {
    case "hello": {
      if (!isCount(f.version)) return bad("version must be a non-negative integer");
      if (f.token !== undefined && !isShortString(f.token, MAX_TOKEN_LENGTH)) {
        return bad(`token must be a string of at most ${MAX_TOKEN_LENGTH} characters`);
      }
      if (typeof f.upstream !== "string" || !UPSTREAM_NAME.test(f.upstream)) {
        return bad("upstream must be 1-64 characters of A-Z a-z 0-9 . _ -");
      }
      if (
        f.publicKey !== undefined &&
        !(typeof f.publicKey === "string" && WIREGUARD_KEY.test(f.publicKey))
      ) {
        return bad("publicKey must be a base64 WireGuard key");
      }
      if (f.carriage !== undefined && !CARRIAGE_CHOICES.includes(f.carriage as CarriageChoice)) {
        return bad(`carriage must be one of ${CARRIAGE_CHOICES.join(", ")}`);
      }
      const frame: HelloFrame = { type: "hello", version: f.version, upstream: f.upstream };
      if (f.token !== undefined) frame.token = f.token;
      if (f.publicKey !== undefined) frame.publicKey = f.publicKey;
      if (f.carriage !== undefined) frame.carriage = f.carriage as CarriageChoice;
      return { ok: true, frame };
    }
    case "welcome": {
      if (!isShortString(f.sessionId, 128) || f.sessionId.length === 0) {
        return bad("sessionId must be a non-empty string of at most 128 characters");
      }
      if (!RELAY_TRANSPORTS.includes(f.transport as RelayTransport)) {
        return bad(`transport must be one of ${RELAY_TRANSPORTS.join(", ")}`);
      }
      if (!isCount(f.datagramSize) || f.datagramSize === 0 || f.datagramSize > 65535) {
        return bad("datagramSize must be an integer in 1..65535");
      }
      if (
        f.messageSize !== undefined &&
        (!isCount(f.messageSize) || f.messageSize < f.datagramSize || f.messageSize > 65535)
      ) {
        return bad("messageSize must be an integer in datagramSize..65535");
      }
      if (
        f.upstreamPublicKey !== undefined &&
        !(typeof f.upstreamPublicKey === "string" && WIREGUARD_KEY.test(f.upstreamPublicKey))
      ) {
        return bad("upstreamPublicKey must be a base64 WireGuard key");
      }
      if (
        f.addresses !== undefined &&
        !(
          Array.isArray(f.addresses) &&
          f.addresses.length <= MAX_ADDRESSES &&
          f.addresses.every((a) => typeof a === "string" && ADDRESS.test(a))
        )
      ) {
        return bad(`addresses must be at most ${MAX_ADDRESSES} prefixes like 10.99.0.7/32`);
      }
      if (f.carriage !== undefined && f.carriage !== "datagrams" && f.carriage !== "stream") {
        return bad("carriage must be datagrams or stream");
      }
      if (f.carriageReason !== undefined && !isShortString(f.carriageReason, 200)) {
        return bad("carriageReason must be a string of at most 200 characters");
      }
      if (f.idleTimeoutMs !== undefined && (!isCount(f.idleTimeoutMs) || f.idleTimeoutMs === 0)) {
        return bad("idleTimeoutMs must be a positive integer");
      }
      if (
        f.closeToken !== undefined &&
        !(typeof f.closeToken === "string" && CLOSE_TOKEN.test(f.closeToken))
      ) {
        return bad("closeToken must be 32 hex digits");
      }
      const frame: WelcomeFrame = {
        type: "welcome",
        sessionId: f.sessionId,
        transport: f.transport as RelayTransport,
        datagramSize: f.datagramSize,
      };
      if (f.messageSize !== undefined) frame.messageSize = f.messageSize;
      if (f.upstreamPublicKey !== undefined) frame.upstreamPublicKey = f.upstreamPublicKey;
      if (f.addresses !== undefined) frame.addresses = [...(f.addresses as string[])];
      if (f.carriage !== undefined) frame.carriage = f.carriage as Carriage;
      if (f.carriageReason !== undefined) frame.carriageReason = f.carriageReason as string;
      if (f.idleTimeoutMs !== undefined) frame.idleTimeoutMs = f.idleTimeoutMs;
      if (f.closeToken !== undefined) frame.closeToken = f.closeToken as string;
      return { ok: true, frame };
    }
    case "error": {
      if (!ERROR_CODES.includes(f.code as ErrorCode)) {
        return bad(`code must be one of ${ERROR_CODES.join(", ")}`);
      }
      if (!isShortString(f.message, 1024)) {
        return bad("message must be a string of at most 1024 characters");
      }
      if (f.limit !== undefined && !isCount(f.limit)) {
        return bad("limit must be a non-negative integer");
      }
      const frame: ErrorFrame = { type: "error", code: f.code as ErrorCode, message: f.message };
      if (f.limit !== undefined) frame.limit = f.limit;
      return { ok: true, frame };
    }
    case "stats-request":
      return { ok: true, frame: { type: "stats-request" } };
    case "stats": {
      const toUpstream = checkDirection(f.toUpstream, "toUpstream");
      if (typeof toUpstream === "string") return bad(toUpstream);
      const toClient = checkDirection(f.toClient, "toClient");
      if (typeof toClient === "string") return bad(toClient);
      if (typeof f.drops !== "object" || f.drops === null || Array.isArray(f.drops)) {
        return bad("drops must be an object");
      }
      const drops: Record<string, number> = {};
      const entries = Object.entries(f.drops as Fields);
      if (entries.length > 64) return bad("drops has more than 64 reasons");
      for (const [reason, count] of entries) {
        if (!DROP_REASON.test(reason))
          return bad("drops keys must be 1-64 characters of a-z 0-9 -");
        if (!isCount(count)) return bad(`drops.${reason} must be a non-negative integer`);
        drops[reason] = count;
      }
      const frame: StatsFrame = { type: "stats", toUpstream, toClient, drops };
      if (f.transportLosses !== undefined) {
        const losses = checkTransportLosses(f.transportLosses);
        if (typeof losses === "string") return bad(losses);
        frame.transportLosses = losses;
      }
      return { ok: true, frame };
    }
    default:
      return fail("unknown-type", `unknown frame type ${JSON.stringify(f.type)?.slice(0, 40)}`);
  }
}

const strictDecoder = new TextDecoder("utf-8", { fatal: true });

/** Decodes one frame body (without the length prefix). */
export function decodeFrameBody(body: Uint8Array): FrameResult {
  if (body.length > MAX_FRAME_SIZE) {
    return fail("too-large", `frame body is ${body.length} bytes, limit ${MAX_FRAME_SIZE}`);
  }
  let text: string;
  try {
    text = strictDecoder.decode(body);
  } catch {
    return fail("not-utf8", "frame body is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return fail("not-json", `frame body is not JSON: ${(error as Error).message.slice(0, 100)}`);
  }
  return validateFrame(value);
}

/**
 * Reassembles frames from stream chunks. `push` returns every complete frame (or error) the
 * chunk finished. After an error the stream is unusable: the length prefix can't be trusted.
 */
export class FrameReader {
  #buffer = new Uint8Array(0);
  #failed = false;

  push(chunk: Uint8Array): FrameResult[] {
    if (this.#failed) return [];
    const joined = new Uint8Array(this.#buffer.length + chunk.length);
    joined.set(this.#buffer);
    joined.set(chunk, this.#buffer.length);
    const results: FrameResult[] = [];
    let offset = 0;
    while (joined.length - offset >= FRAME_HEADER_SIZE) {
      const view = new DataView(joined.buffer, joined.byteOffset + offset, FRAME_HEADER_SIZE);
      const length = view.getUint32(0);
      if (length > MAX_FRAME_SIZE) {
        this.#failed = true;
        results.push(fail("too-large", `frame announces ${length} bytes, limit ${MAX_FRAME_SIZE}`));
        this.#buffer = new Uint8Array(0);
        return results;
      }
      if (joined.length - offset - FRAME_HEADER_SIZE < length) break;
      const body = joined.subarray(offset + FRAME_HEADER_SIZE, offset + FRAME_HEADER_SIZE + length);
      const result = decodeFrameBody(body);
      results.push(result);
      offset += FRAME_HEADER_SIZE + length;
      if (!result.ok) {
        this.#failed = true;
        this.#buffer = new Uint8Array(0);
        return results;
      }
    }
    this.#buffer = joined.slice(offset);
    return results;
  }

  /** Bytes of an incomplete frame waiting for more data. */
  get pending(): number {
    return this.#buffer.length;
  }
}
