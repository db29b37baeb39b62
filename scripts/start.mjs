#!/usr/bin/env node
// `npm start`: build what is needed, then run the relay with its embedded demo peer, serving the
// web client from the same origin. Extra arguments are passed to wiregate-relay.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const relayCli = `${root}apps/relay/dist/cli.js`;
const webDist = `${root}apps/web/dist`;

console.log("Building (cached after the first run)…");
const build = spawnSync("npx", ["turbo", "run", "build", "--output-logs=errors-only"], {
  cwd: root,
  stdio: "inherit",
});
if (build.status !== 0) {
  console.error("The build failed; see the errors above.");
  process.exit(build.status ?? 1);
}
const missing = [
  [relayCli, "the relay (apps/relay)"],
  [`${webDist}/index.html`, "the web client (apps/web)"],
].filter(([path]) => !existsSync(path));
if (missing.length > 0) {
  for (const [, what] of missing) console.error(`Missing after the build: ${what}.`);
  process.exit(1);
}

// The page is served over plain HTTP on loopback (a secure context, so no certificate to accept);
// it reaches the relay over HTTP/3 with the development certificate's hash.
const relay = spawn(
  process.execPath,
  [relayCli, "--demo", "--static", webDist, "--local-http-port", "4480", ...process.argv.slice(2)],
  { cwd: root, stdio: ["ignore", "pipe", "inherit"] },
);
// The relay logs JSON lines (kept as they are); the essentials are also said in plain words.
const lines = createInterface({ input: relay.stdout });
lines.on("line", (line) => {
  console.log(line);
  let entry;
  try {
    entry = JSON.parse(line);
  } catch {
    return;
  }
  if (entry.msg === "demo peer ready") {
    console.log(`\nDemo peer public key: ${entry.publicKey}`);
    console.log(
      `A working client configuration (throwaway key, readable by you only): ${entry.clientConfigFile}`,
    );
    console.log("The web client generates its own keys; no key is needed to try it.");
  } else if (entry.msg === "relay listening") {
    console.log(`\nWeb client:  ${entry.webClient ?? "(no --static directory)"}`);
    // The page answers at its loopback address too, but there a browser that blocks third-party
    // storage (an incognito window) refuses the Browse screen's origins their Service Workers.
    if (entry.localHttp && entry.webClient && entry.localHttp !== entry.webClient)
      console.log(
        `             (also ${entry.localHttp}, where Browse may not work: use the name above)`,
      );
    console.log(`WebTransport: ${entry.url}  (${entry.transports.join(", ")})`);
    console.log(`Certificate SHA-256 (serverCertificateHashes): ${entry.certificateSha256}`);
    console.log(
      entry.webClient?.startsWith("http:")
        ? "Plain HTTP on loopback is a secure context: no certificate warning, nothing to accept.\n"
        : "The development certificate is self-signed: the browser warns once before the page.\n",
    );
  }
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => relay.kill(signal));
relay.on("exit", (code, signal) => process.exit(signal ? 0 : (code ?? 0)));
