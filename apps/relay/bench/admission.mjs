// Admission cost of a signed token (JWT: verify + policy) next to a shared bearer token, measured
// in the same run two ways:
//   1. in process: `Admission.hello` alone (the decision the relay makes for each hello), for a
//      bearer token and for JWTs signed with RS256, ES256 and EdDSA (keys from a JWKS file);
//   2. against a relay process: sessions opened and closed one after the other (connect, hello,
//      welcome, close) with either token, alternating in rounds; wall time per session and the
//      relay's CPU time per session.
// Prints ratios against the bearer token. Options: --calls=N (in process, per kind, default 5000)
// --sessions=N (per kind against the relay, default 200) --transport=http3|http2 (default http3).

import { spawn } from "node:child_process";
import { createPublicKey, verify } from "node:crypto";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { quicheLoaded, WebTransport } from "@fails-components/webtransport";
import { connectRelay, PROTOCOL_VERSION } from "@wiregate/relay-protocol";
import { exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT } from "jose";

console.log = () => {}; // the library's console notes
console.error = () => {};
const print = (line) => process.stdout.write(`${line}\n`);

const { values } = parseArgs({
  options: {
    calls: { type: "string", default: "5000" },
    sessions: { type: "string", default: "200" },
    transport: { type: "string", default: "http3" },
  },
});
const CALLS = Math.min(100_000, Number(values.calls));
const SESSIONS = Math.min(2000, Number(values.sessions));
const TRANSPORT = values.transport;
if (TRANSPORT !== "http3" && TRANSPORT !== "http2")
  throw new Error(`--transport must be http3 or http2, not ${TRANSPORT}`);
const TOKEN = "bench-shared-token-0123456789";
const ISSUER = "https://idp.bench/";
const root = fileURLToPath(new URL("..", import.meta.url));
const dist = (file) => join(root, "dist", file);

const { Admission } = await import(dist("admission.js"));
const { Identity } = await import(dist("identity/identity.js"));
const { DEFAULT_CONFIG, mergeConfig } = await import(dist("config.js"));
const { UpstreamRegistry } = await import(dist("upstreams.js"));
const { silentLogger } = await import(dist("logger.js"));

// --- keys, a JWKS file and tokens ------------------------------------------------------------
const ALGORITHMS = ["RS256", "ES256", "EdDSA"];
const keys = {};
const jwks = [];
for (const alg of ALGORITHMS) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  keys[alg] = privateKey;
  jwks.push({ ...(await exportJWK(publicKey)), kid: alg, alg });
}
const jwksFile = join(mkdtempSync(join(tmpdir(), "wiregate-bench-jwks-")), "jwks.json");
writeFileSync(jwksFile, JSON.stringify({ keys: jwks }));
const mint = (alg, audience, sub = "bench-user") =>
  new SignJWT({ iss: ISSUER, aud: audience, sub, wiregate_upstreams: ["echo"] })
    .setProtectedHeader({ alg, kid: alg })
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(keys[alg]);

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// --- 1. in process: Admission.hello ------------------------------------------------------------
const identityConfig = {
  ...DEFAULT_CONFIG.identity,
  issuer: ISSUER,
  jwksFile,
  algorithms: ["RS256", "ES256", "EdDSA"],
  maxSessionsPerSubject: 1_000_000,
};
const config = mergeConfig(DEFAULT_CONFIG, {
  tokens: [TOKEN],
  upstreams: [{ name: "echo", host: "127.0.0.1", port: 9 }],
});
const identity = new Identity(identityConfig, config.limits.maxSessions, silentLogger);
await identity.start();
identity.verifier.audience = ["https://relay.bench/wiregate"];
const admission = new Admission(
  config.tokens,
  config.limits,
  { requireOrigin: false, allowedOrigins: [] },
  new UpstreamRegistry(config.upstreams),
  () => 0,
  identity,
);
const hello = (token) => ({ type: "hello", version: PROTOCOL_VERSION, token, upstream: "echo" });
const kinds = { bearer: TOKEN };
for (const alg of ALGORITHMS) kinds[`JWT ${alg}`] = await mint(alg, "https://relay.bench/wiregate");

// Where a JWT's time goes: the RS256 signature check alone (node:crypto), and jose's jwtVerify with
// the key in hand, next to the hello that finds the key through the JWKS.
const rsaToken = kinds["JWT RS256"];
const rsaJwk = jwks.find((k) => k.kid === "RS256");
const [head, payload, signature] = rsaToken.split(".");
const signed = Buffer.from(`${head}.${payload}`);
const signatureBytes = Buffer.from(signature, "base64url");
const rsaKey = createPublicKey({ key: rsaJwk, format: "jwk" });
const rsaCryptoKey = await importJWK(rsaJwk, "RS256");
const cases = {};
for (const [kind, token] of Object.entries(kinds)) {
  const frame = hello(token);
  cases[kind] = async () => {
    const verdict = await admission.hello(frame, "127.0.0.1");
    if ("code" in verdict) throw new Error(`refused: ${verdict.code} ${verdict.message}`);
  };
}
const parts = {
  "node:crypto.verify RS256 alone": async () => verify("sha256", signed, rsaKey, signatureBytes),
  "jose jwtVerify RS256, key in hand": () => jwtVerify(rsaToken, rsaCryptoKey),
};
Object.assign(cases, parts);
// Batches of each case in turn, so that the machine's load changes touch every case alike; the
// median batch is reported.
const BATCH = 50;
const batches = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let done = 0; done < CALLS; done += BATCH)
  for (const [name, call] of Object.entries(cases)) {
    const start = performance.now();
    for (let i = 0; i < BATCH; i++) await call();
    batches[name].push(((performance.now() - start) * 1000) / BATCH);
  }
identity.stop();
print(`Admission.hello in process (${CALLS} calls per kind in batches of ${BATCH}, median batch):`);
const bearerUs = median(batches.bearer);
for (const [name, times] of Object.entries(batches)) {
  const us = median(times);
  const label = name in parts ? `(${name})` : name;
  print(
    `  ${label.padEnd(36)} ${us.toFixed(1).padStart(7)} µs  ${(us / bearerUs).toFixed(1)} × bearer`,
  );
}

// --- 2. against a relay process: whole sessions ------------------------------------------------
const echo = createSocket("udp4");
echo.on("message", (msg, from) => echo.send(msg, from.port, from.address));
await new Promise((resolve) => echo.bind(0, "127.0.0.1", resolve));
const relay = spawn(
  process.execPath,
  [
    dist("cli.js"),
    "--port=0",
    "--ops-port=0",
    "--no-demo",
    `--cert-dir=${mkdtempSync(join(tmpdir(), "wiregate-bench-admission-"))}`,
    `--upstream=echo=127.0.0.1:${echo.address().port}`,
    `--jwt-issuer=${ISSUER}`,
    `--jwks-file=${jwksFile}`,
    "--max-sessions-per-user=100000",
    "--log-level=info",
  ],
  { env: { ...process.env, WIREGATE_RELAY_TOKENS: TOKEN }, stdio: ["ignore", "pipe", "inherit"] },
);
const listening = await new Promise((resolve, reject) => {
  let buffer = "";
  // Read to the "relay listening" line, then keep draining (a full pipe would stall the relay).
  relay.stdout.on("data", (chunk) => {
    if (buffer === null) return;
    buffer += chunk;
    const line = buffer.split("\n").find((l) => l.includes('"relay listening"'));
    if (!line) return;
    buffer = null;
    resolve(JSON.parse(line));
  });
  relay.once("exit", () => reject(new Error("relay exited")));
});
const cpuMs = () => {
  const fields = readFileSync(`/proc/${relay.pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
};
await quicheLoaded;
const hash = Uint8Array.from(Buffer.from(listening.certificateSha256, "hex"));
const session = async (token) => {
  const conn = await connectRelay({
    WebTransport,
    url: listening.url,
    token,
    upstream: "echo",
    serverCertificateHashes: [{ algorithm: "sha-256", value: hash }],
    transportOptions: TRANSPORT === "http2" ? { forceReliable: true } : { requireUnreliable: true },
  });
  conn.close();
  await conn.closed;
};
const relayKinds = {
  bearer: TOKEN,
  "JWT RS256": await mint("RS256", listening.url),
  "JWT ES256": await mint("ES256", listening.url),
};
const wall = Object.fromEntries(Object.keys(relayKinds).map((k) => [k, []]));
const cpu = Object.fromEntries(Object.keys(relayKinds).map((k) => [k, 0]));
for (const token of Object.values(relayKinds)) for (let i = 0; i < 10; i++) await session(token); // warm-up
const ROUND = 25;
for (let done = 0; done < SESSIONS; done += ROUND)
  for (const [kind, token] of Object.entries(relayKinds)) {
    const cpuBefore = cpuMs();
    for (let i = 0; i < ROUND; i++) {
      const start = performance.now();
      await session(token);
      wall[kind].push(performance.now() - start);
    }
    cpu[kind] += cpuMs() - cpuBefore;
  }
relay.kill("SIGTERM");
echo.close();
print(
  `Whole sessions against a relay process over ${TRANSPORT} (${SESSIONS} per kind, one at a time, alternating rounds of ${ROUND}):`,
);
const bearerWall = median(wall.bearer);
const bearerCpu = cpu.bearer / wall.bearer.length;
for (const kind of Object.keys(relayKinds)) {
  const ms = median(wall[kind]);
  const cpuPer = cpu[kind] / wall[kind].length;
  print(
    `  ${kind.padEnd(10)} ${ms.toFixed(2).padStart(6)} ms/session (median)  ${(ms / bearerWall).toFixed(2)} × bearer;  relay CPU ${cpuPer.toFixed(2)} ms/session  ${(cpuPer / bearerCpu).toFixed(2)} × bearer`,
  );
}
process.exit(0);
