/**
 * Gets certificates from an ACME CA (RFC 8555) with the `acme-client` library, and keeps the
 * account key and the newest certificate in a directory, each file readable by its owner only.
 */

import { createPrivateKey, X509Certificate } from "node:crypto";
import { chmod, mkdir, readFile } from "node:fs/promises";
import { Agent } from "node:https";
import { join } from "node:path";
import * as acme from "acme-client";
import type { AcmeChallenges } from "./acme-challenges.js";
import { type CertificateMaterial, describe, ownerOnly, writeSecret } from "./dev-cert.js";
import type { Logger } from "./logger.js";

export interface AcmeSettings {
  domains: string[];
  email: string | null;
  directoryUrl: string;
  /** PEM roots trusted for the directory's HTTPS; null: Node's. */
  caFile: string | null;
  /** HTTP-01 when the relay serves the challenge port; TLS-ALPN-01 otherwise. */
  challenge: "tls-alpn-01" | "http-01";
  dir: string;
}

/** One request to the CA may take this long. */
const REQUEST_TIMEOUT_MS = 30_000;

export class AcmeIssuer {
  readonly #settings: AcmeSettings;
  readonly #challenges: AcmeChallenges;
  readonly #log: Logger;
  #client: acme.Client | undefined;

  constructor(settings: AcmeSettings, challenges: AcmeChallenges, log: Logger) {
    this.#settings = settings;
    this.#challenges = challenges;
    this.#log = log;
  }

  get #certFile(): string {
    return join(this.#settings.dir, "cert.pem");
  }

  get #keyFile(): string {
    return join(this.#settings.dir, "key.pem");
  }

  /** The certificate kept from an earlier run, when it covers the domains and matches its key. */
  async stored(): Promise<CertificateMaterial | undefined> {
    let material: CertificateMaterial;
    try {
      material = describe(
        await readFile(this.#certFile, "utf8"),
        await readFile(this.#keyFile, "utf8"),
        false,
      );
    } catch {
      return undefined;
    }
    const cert = new X509Certificate(material.certPem);
    const covered = this.#settings.domains.every((domain) => cert.checkHost(domain) !== undefined);
    if (!covered || !cert.checkPrivateKey(createPrivateKey(material.keyPem))) return undefined;
    return material;
  }

  /** Orders a certificate for the domains, answers the challenge, stores and returns it. */
  async issue(): Promise<CertificateMaterial> {
    const settings = this.#settings;
    const client = await this.#accountClient();
    const [keyPem, csr] = await acme.crypto.createCsr(
      { commonName: settings.domains[0]!, altNames: settings.domains },
      await acme.crypto.createPrivateEcdsaKey("P-256"),
    );
    const chainPem = await client.auto({
      csr,
      email: settings.email ?? undefined,
      // Configuring ACME is the operator's agreement to the CA's terms (see docs/relay.md).
      termsOfServiceAgreed: true,
      challengePriority: [settings.challenge],
      // The CA checks; a self-check would need the public port (443 or 80), not ours.
      skipChallengeVerification: true,
      challengeCreateFn: async (authz, challenge, keyAuthorization) => {
        // The library's types predate its TLS-ALPN-01 support.
        const type: string = challenge.type;
        if (type === "tls-alpn-01") {
          const [alpnKey, alpnCert] = await acme.crypto.createAlpnCertificate(
            authz,
            keyAuthorization,
            await acme.crypto.createPrivateEcdsaKey("P-256"),
          );
          this.#challenges.addAlpn(authz.identifier.value, alpnCert.toString(), alpnKey.toString());
        } else if (type === "http-01") {
          this.#challenges.addHttp(challenge.token, keyAuthorization);
        } else {
          throw new Error(`ACME challenge ${type} is not supported`);
        }
      },
      challengeRemoveFn: async (authz, challenge) => {
        this.#challenges.remove(authz.identifier.value, (challenge as { token: string }).token);
      },
    });
    const material = describe(chainPem, keyPem.toString(), false);
    await mkdir(settings.dir, { recursive: true, mode: 0o700 });
    await writeSecret(this.#keyFile, material.keyPem);
    await writeSecret(this.#certFile, material.certPem);
    return material;
  }

  /** The client with the stored account key (made and stored 0600 on first use). */
  async #accountClient(): Promise<acme.Client> {
    if (this.#client) return this.#client;
    const settings = this.#settings;
    await mkdir(settings.dir, { recursive: true, mode: 0o700 });
    await chmod(settings.dir, 0o700);
    const accountFile = join(settings.dir, "account.key");
    let accountKey: string;
    try {
      accountKey = await readFile(accountFile, "utf8");
      await ownerOnly(accountFile);
    } catch {
      accountKey = (await acme.crypto.createPrivateEcdsaKey("P-256")).toString();
      await writeSecret(accountFile, accountKey);
      this.#log.info("ACME account key created", { file: accountFile });
    }
    // The library's one HTTP client: a request timeout, and the test CA's root when given.
    acme.axios.defaults.timeout = REQUEST_TIMEOUT_MS;
    if (settings.caFile)
      acme.axios.defaults.httpsAgent = new Agent({ ca: await readFile(settings.caFile, "utf8") });
    acme.setLogger((message: string) => this.#log.debug("acme", { text: message }));
    this.#client = new acme.Client({ directoryUrl: settings.directoryUrl, accountKey });
    return this.#client;
  }
}
