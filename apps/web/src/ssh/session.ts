/**
 * One SSH login through the tunnel: @microsoft/dev-tunnels-ssh's transport, key exchange,
 * authentication and channels over a netstack TCP connection (tcp-stream.ts), then a shell on a
 * pseudo-terminal. The library has no message for `pty-req` and `window-change`: two small
 * request messages below (RFC 4254, 6.2 and 6.7).
 */
import {
  AuthenticationInfoResponseMessage,
  ChannelRequestMessage,
  type KeyPair,
  SshAlgorithms,
  SshAuthenticationType,
  type SshChannel,
  SshClientSession,
  type SshDataWriter,
  SshDisconnectReason,
  SshSessionConfiguration,
} from "@microsoft/dev-tunnels-ssh";
import { Buffer } from "buffer";
import type { TunnelClient } from "../client.js";
import { ssh_ed25519 } from "./ed25519.js";
import { type HostKeyCheck, hostKeyOf } from "./host-keys.js";
import "./library-fixes.js";
import { TunnelTcpStream } from "./tcp-stream.js";

export type SshAuth =
  | { kind: "password"; password: string }
  | { kind: "key"; key: KeyPair }
  | {
      kind: "keyboard-interactive";
      /** Answers the server's prompts (e.g. "Password: "), in order. */
      answer: (
        prompts: { prompt: string; echo: boolean }[],
        instruction: string,
      ) => Promise<string[]>;
    };

export interface SshTarget {
  host: string;
  port: number;
  user: string;
}

export interface SshOpenOptions {
  /** Decides on the server's host key (known hosts); a refusal's message is the error shown. */
  checkHostKey: HostKeyCheck;
  cols: number;
  rows: number;
  /** The whole login (TCP, key exchange, authentication, shell) must finish within this. */
  timeoutMs: number;
  /** Progress, for the screen. */
  progress?: (step: string) => void;
}

export class SshLoginError extends Error {}

/**
 * The algorithms we offer, in order of preference. All of them are OpenSSH defaults; the library
 * has neither curve25519, Ed25519 (added here, ed25519.ts) nor ChaCha20-Poly1305 (docs/web.md).
 */
function configuration(auth: SshAuth): SshSessionConfiguration {
  const config = new SshSessionConfiguration();
  const { keyExchange: kex, publicKey: pk, encryption: enc, hmac } = SshAlgorithms;
  replace(config.keyExchangeAlgorithms, [
    kex.ecdhNistp256Sha256,
    kex.ecdhNistp384Sha384,
    kex.ecdhNistp521Sha512,
    kex.dhGroup16Sha512,
    kex.dhGroup14Sha256,
  ]);
  replace(config.publicKeyAlgorithms, [
    ssh_ed25519,
    pk.ecdsaSha2Nistp256,
    pk.ecdsaSha2Nistp384,
    pk.ecdsaSha2Nistp521,
    pk.rsaWithSha512,
    pk.rsaWithSha256,
  ]);
  replace(config.encryptionAlgorithms, [enc.aes256Gcm, enc.aes256Ctr]);
  replace(config.hmacAlgorithms, [hmac.hmacSha256Etm, hmac.hmacSha512Etm, hmac.hmacSha256]);
  replace(config.compressionAlgorithms, [SshAlgorithms.compression.none]);
  // Only the standard extension; the library's own (reconnect, latency) are for its servers.
  replace(config.protocolExtensions, ["server-sig-algs"]);
  replace(config.authenticationMethods, [
    auth.kind === "key"
      ? "publickey"
      : auth.kind === "password"
        ? "password"
        : "keyboard-interactive",
  ]);
  return config;
}

function replace<T>(list: T[], items: T[]): void {
  list.splice(0, list.length, ...items);
}

export class SshShell {
  readonly session: SshClientSession;
  readonly channel: SshChannel;

  constructor(session: SshClientSession, channel: SshChannel) {
    this.session = session;
    this.channel = channel;
  }

  /** Starts the shell: attach the terminal first, the library keeps no data for later. */
  async start(): Promise<void> {
    if (!(await this.channel.request(new ChannelRequestMessage("shell", true)))) {
      throw new SshLoginError("the server refused a shell");
    }
  }

  /** The terminal's new size reaches the server (`window-change`). */
  resize(cols: number, rows: number): void {
    void this.channel.request(new WindowChangeRequest(cols, rows)).catch(() => {});
  }

  async close(message = "closed by the user"): Promise<void> {
    await this.session.close(SshDisconnectReason.byApplication, message).catch(() => {});
  }
}

/** Logs in and opens a pseudo-terminal of `cols` × `rows`; `start()` then starts the shell. */
export async function openShell(
  client: TunnelClient,
  target: SshTarget,
  auth: SshAuth,
  options: SshOpenOptions,
): Promise<SshShell> {
  let session: SshClientSession | undefined;
  // The network steps must finish within the time; the user's own answers (a new host key, a
  // keyboard-interactive prompt) do not count.
  const deadline = new Deadline(
    options.timeoutMs,
    `no answer: the login to ${target.host}:${target.port} did not finish within ${options.timeoutMs / 1000} s`,
  );
  try {
    return await Promise.race([login(), deadline.expired]);
  } catch (error) {
    void session?.close(SshDisconnectReason.byApplication, "login failed").catch(() => {});
    session?.dispose();
    throw error;
  } finally {
    deadline.pause();
  }

  async function login(): Promise<SshShell> {
    const progress = options.progress ?? (() => {});
    progress(`Opening TCP ${target.host}:${target.port} through the tunnel…`);
    const stream = await TunnelTcpStream.open(client, target.host, target.port);
    session = new SshClientSession(configuration(auth));
    const s = session;
    let refusal: string | undefined;
    s.onAuthenticating((e) => {
      if (e.authenticationType === SshAuthenticationType.serverPublicKey && e.publicKey) {
        const key = e.publicKey;
        e.authenticationPromise = (async () => {
          const hostKey = await hostKeyOf(key);
          const verdict = await deadline.without(() => options.checkHostKey(hostKey));
          if (verdict !== true) refusal = verdict;
          return verdict === true ? {} : null;
        })();
      } else if (
        e.authenticationType === SshAuthenticationType.clientInteractive &&
        e.infoRequest &&
        auth.kind === "keyboard-interactive"
      ) {
        const request = e.infoRequest;
        e.authenticationPromise = (async () => {
          const response = new AuthenticationInfoResponseMessage();
          const prompts = request.prompts ?? [];
          // OpenSSH ends PAM's conversation with a request of no prompts: answered at once.
          response.responses =
            prompts.length === 0
              ? []
              : await deadline.without(() => auth.answer(prompts, request.instruction ?? ""));
          e.infoResponse = response;
          return null;
        })();
      }
    });
    progress("Key exchange…");
    await s.connect(stream).catch((error: Error) => {
      throw new SshLoginError(
        `SSH handshake with ${target.host}:${target.port} failed: ${error.message}`,
      );
    });
    if (!(await s.authenticateServer())) {
      throw new SshLoginError(refusal ?? "the server's host key was not accepted");
    }
    progress(`Logging in as ${target.user} (${auth.kind})…`);
    const ok = await s.authenticateClient(
      auth.kind === "password"
        ? { username: target.user, password: auth.password }
        : auth.kind === "key"
          ? { username: target.user, publicKeys: [auth.key] }
          : { username: target.user },
    );
    if (!ok) throw new SshLoginError(`the server refused the ${auth.kind} login of ${target.user}`);
    progress("Opening a pseudo-terminal…");
    const channel = await s.openChannel();
    if (!(await channel.request(new PtyRequest(options.cols, options.rows)))) {
      throw new SshLoginError("the server refused a pseudo-terminal");
    }
    return new SshShell(s, channel);
  }
}

/** `pty-req` (RFC 4254, 6.2): xterm-256color, the size in cells, no terminal modes. */
class PtyRequest extends ChannelRequestMessage {
  constructor(
    readonly cols: number,
    readonly rows: number,
  ) {
    super("pty-req", true);
  }

  protected override onWrite(writer: SshDataWriter): void {
    super.onWrite(writer);
    writer.writeString("xterm-256color", "ascii");
    writer.writeUInt32(this.cols);
    writer.writeUInt32(this.rows);
    writer.writeUInt32(0);
    writer.writeUInt32(0);
    // Encoded terminal modes: only TTY_OP_END.
    writer.writeBinary(Buffer.from([0]));
  }
}

/** `window-change` (RFC 4254, 6.7). */
class WindowChangeRequest extends ChannelRequestMessage {
  constructor(
    readonly cols: number,
    readonly rows: number,
  ) {
    super("window-change", false);
  }

  protected override onWrite(writer: SshDataWriter): void {
    super.onWrite(writer);
    writer.writeUInt32(this.cols);
    writer.writeUInt32(this.rows);
    writer.writeUInt32(0);
    writer.writeUInt32(0);
  }
}

/** A time limit that stops while the user is asked something. */
class Deadline {
  readonly expired: Promise<never>;
  #left: number;
  #since = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #fail!: (error: Error) => void;
  readonly #message: string;

  constructor(ms: number, message: string) {
    this.#left = ms;
    this.#message = message;
    this.expired = new Promise<never>((_, reject) => {
      this.#fail = reject;
    });
    this.expired.catch(() => {});
    this.#resume();
  }

  #resume(): void {
    this.#since = performance.now();
    this.#timer = setTimeout(() => this.#fail(new SshLoginError(this.#message)), this.#left);
  }

  pause(): void {
    clearTimeout(this.#timer);
    this.#left -= performance.now() - this.#since;
  }

  async without<T>(ask: () => Promise<T>): Promise<T> {
    this.pause();
    try {
      return await ask();
    } finally {
      this.#resume();
    }
  }
}
