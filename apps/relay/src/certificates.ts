/**
 * The relay's certificate and where it comes from: the operator's `--cert/--key` files (reread
 * when they change on disk or on `reload()`), an ACME CA (renewed on a schedule, or at once on
 * `renewNow()`), or a self-signed development certificate. Whoever serves TLS listens with
 * `onChange` and swaps the new certificate in.
 */

import { unwatchFile, watchFile } from "node:fs";
import type { Server as HttpServer } from "node:http";
import type { Server as TlsServer } from "node:tls";
import { Counter, Gauge, type Registry } from "prom-client";
import { AcmeChallenges } from "./acme-challenges.js";
import type { RelayConfig } from "./config.js";
import {
  type CertificateMaterial,
  ensureDevCertificate,
  generateDevCertificate,
  hexHash,
  loadCertificate,
} from "./dev-cert.js";
import { checkKeyFileMode } from "./key-file-mode.js";
import type { Logger } from "./logger.js";
import { RenewalSchedule, realTimers, renewalTime, type Timers } from "./renewal-schedule.js";

type AcmeIssuer = import("./acme.js").AcmeIssuer;

const DAY_MS = 24 * 60 * 60 * 1000;
/** How often `--cert/--key` are checked for changes. */
const FILE_POLL_MS = 2_000;

/** Chromium accepts `serverCertificateHashes` only for certificates valid at most 14 days. */
const PINNABLE_MS = 14 * DAY_MS;

/**
 * The hash a page should pin (hex), or "" when the browser must trust the certificate itself:
 * an ACME certificate (it changes on renewal), or one valid for longer than Chromium pins.
 */
export function pinnedHash(keeper: CertificateKeeper): string {
  const { current } = keeper;
  const lifetime = current.validTo.getTime() - current.validFrom.getTime();
  return keeper.source === "acme" || lifetime > PINNABLE_MS ? "" : hexHash(current.sha256);
}

export type CertificateSource = "files" | "acme" | "development";

export interface CertificateKeeperOptions {
  config: RelayConfig;
  /** Names the development certificate covers. */
  names: string[];
  log: Logger;
  /** Wall-clock milliseconds since the epoch, and timers: virtual in tests. */
  now?: () => number;
  timers?: Timers;
}

export class CertificateKeeper {
  readonly source: CertificateSource;
  readonly #config: RelayConfig;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #listeners: ((material: CertificateMaterial) => void | Promise<void>)[] = [];
  readonly #challenges: AcmeChallenges;
  readonly #renewals = new Map<"success" | "failure", number>();
  #schedule: RenewalSchedule | undefined;
  readonly #issuer: AcmeIssuer | undefined;
  #httpChallenges: HttpServer | undefined;
  #watching = false;
  current: CertificateMaterial;

  private constructor(
    options: CertificateKeeperOptions,
    source: CertificateSource,
    current: CertificateMaterial,
    acme?: { issuer: AcmeIssuer; challenges: AcmeChallenges },
  ) {
    this.#config = options.config;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.source = source;
    this.current = current;
    this.#issuer = acme?.issuer;
    this.#challenges = acme?.challenges ?? new AcmeChallenges();
    if (acme) this.#schedule = this.#renewalSchedule(acme.issuer, options.timers ?? realTimers);
  }

  /** Loads the first certificate. With ACME and none stored yet, a self-signed stand-in. */
  static async open(options: CertificateKeeperOptions): Promise<CertificateKeeper> {
    const { config } = options;
    if (config.certFile && config.keyFile) {
      const material = await loadCertificate(config.certFile, config.keyFile);
      return new CertificateKeeper(options, "files", material);
    }
    if (config.acmeDomains.length > 0) {
      // Loaded only when used: the ACME library brings an HTTP client and more.
      const { AcmeIssuer } = await import("./acme.js");
      const challenges = new AcmeChallenges();
      const issuer = new AcmeIssuer(
        {
          domains: config.acmeDomains,
          email: config.acmeEmail,
          directoryUrl: config.acmeDirectory,
          caFile: config.acmeCaFile,
          challenge: config.acmeHttpPort === null ? "tls-alpn-01" : "http-01",
          dir: config.acmeDir,
        },
        challenges,
        options.log,
      );
      // Until the CA has answered, a self-signed stand-in (the TLS port must be up to answer it).
      const first = (await issuer.stored()) ?? generateDevCertificate(config.acmeDomains);
      return new CertificateKeeper(options, "acme", first, { issuer, challenges });
    }
    return new CertificateKeeper(
      options,
      "development",
      await ensureDevCertificate(config.certDir, options.names),
    );
  }

  /** `listener` gets every new certificate; the keeper waits for it before going on. */
  onChange(listener: (material: CertificateMaterial) => void | Promise<void>): void {
    this.#listeners.push(listener);
  }

  /**
   * Starts what keeps the certificate fresh: the challenge responders and the renewal schedule
   * (ACME), or the watch on `--cert/--key`. `tlsServer` is the relay's TLS port.
   */
  async start(tlsServer: TlsServer): Promise<void> {
    const config = this.#config;
    if (this.source === "files") {
      this.#watching = true;
      for (const file of [config.certFile!, config.keyFile!])
        watchFile(file, { interval: FILE_POLL_MS, persistent: false }, this.#onFileChange);
      return;
    }
    if (this.source !== "acme") return;
    this.#challenges.attachAlpn(tlsServer);
    if (config.acmeHttpPort !== null)
      this.#httpChallenges = await this.#challenges.listenHttp(config.acmeHttpPort);
    const stored = this.current.generated ? undefined : this.current;
    this.#schedule!.start(stored);
  }

  /** SIGHUP: reread the certificate from disk (the files, or the stored ACME certificate). */
  async reload(): Promise<void> {
    if (this.source === "files") {
      // The same rule as at start: a key open to others is not taken.
      await checkKeyFileMode(this.#config.keyFile!);
      const material = await loadCertificate(this.#config.certFile!, this.#config.keyFile!);
      await this.#use(material, "reloaded from files");
    } else if (this.source === "acme") {
      const stored = await this.#issuer!.stored();
      if (stored) await this.#use(stored, "reloaded from the ACME directory");
    }
  }

  /** A forced ACME renewal; resolves when it has ended (failed or not). */
  async renewNow(): Promise<void> {
    if (!this.#schedule) throw new Error("renewNow: the certificate does not come from ACME");
    await this.#schedule.renewNow();
  }

  /** When the next ACME attempt is due (ms since the epoch). */
  get renewalDueAt(): number | undefined {
    return this.#schedule?.dueAt;
  }

  /** Days until the certificate expires, and ACME renewals by result. */
  registerMetrics(registry: Registry): void {
    const keeper = this;
    new Gauge({
      name: "wiregate_relay_certificate_expiry_days",
      help: "Days until the served certificate expires",
      registers: [registry],
      collect() {
        this.set((keeper.current.validTo.getTime() - keeper.#now()) / DAY_MS);
      },
    });
    new Counter({
      name: "wiregate_relay_certificate_renewals_total",
      help: "ACME certificate renewals, by result",
      labelNames: ["result"],
      registers: [registry],
      collect() {
        this.reset();
        for (const result of ["success", "failure"] as const)
          this.inc({ result }, keeper.#renewals.get(result) ?? 0);
      },
    });
  }

  async stop(): Promise<void> {
    this.#schedule?.stop();
    if (this.#watching) {
      for (const file of [this.#config.certFile!, this.#config.keyFile!])
        unwatchFile(file, this.#onFileChange);
    }
    const http = this.#httpChallenges;
    if (http) await new Promise<void>((resolve) => http.close(() => resolve()));
  }

  #renewalSchedule(issuer: AcmeIssuer, timers: Timers): RenewalSchedule {
    const config = this.#config;
    return new RenewalSchedule({
      now: this.#now,
      timers,
      renew: async () => {
        this.#log.info("ACME: requesting a certificate", {
          domains: config.acmeDomains,
          directory: config.acmeDirectory,
        });
        const material = await issuer.issue();
        this.#count("success");
        await this.#use(material, "issued by the ACME CA");
        return material;
      },
      onFailure: (error, failures, retryAt) => {
        this.#count("failure");
        this.#log.error("ACME: no certificate", {
          error: (error as Error)?.message ?? String(error),
          failures,
          retryAt: new Date(retryAt).toISOString(),
        });
      },
    });
  }

  #count(result: "success" | "failure"): void {
    this.#renewals.set(result, (this.#renewals.get(result) ?? 0) + 1);
  }

  readonly #onFileChange = (): void => {
    this.reload().catch((error: unknown) =>
      // Files are often written one after the other: the pair may not match for a moment.
      this.#log.warn("certificate files changed but do not load", {
        error: (error as Error).message,
      }),
    );
  };

  async #use(material: CertificateMaterial, why: string): Promise<void> {
    if (Buffer.compare(material.sha256, this.current.sha256) === 0) return;
    this.current = material;
    for (const listener of this.#listeners) await listener(material);
    this.#log.info("certificate in use", {
      why,
      validFrom: material.validFrom.toISOString(),
      validTo: material.validTo.toISOString(),
      ...(this.source === "acme" ? { renewAt: new Date(renewalTime(material)).toISOString() } : {}),
    });
  }
}
