/**
 * Two unmodified wireguard-go peers in namespaces that know each other's endpoint (so either may
 * initiate), with a key log that lets tshark and wiregate-replay decrypt their traffic; and the
 * built wiregate-replay CLI, run as a process.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { generateKeyPair, generatePresharedKey, startWireGuardPeer } from "./netns.js";

const run = promisify(execFile);
const CLI = resolve(dirname(fileURLToPath(import.meta.url)), "../../tools/replay/dist/cli.js");

/** Runs wiregate-replay; never rejects: the exit code, stdout and stderr are the result. */
export async function replayCli(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { maxBuffer: 1 << 26 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Peers A (`${subnet}.1`) and B (`${subnet}.2`); the key log is written into `dir`. */
export async function wireguardGoPair(options: { subnet: string; dir: string; psk?: boolean }) {
  const { subnet } = options;
  const keysA = await generateKeyPair();
  const keysB = await generateKeyPair();
  const presharedKey = options.psk ? await generatePresharedKey() : undefined;
  const a = await startWireGuardPeer({
    privateKey: keysA.privateKey,
    addresses: [`${subnet}.1/24`],
    peers: [{ publicKey: keysB.publicKey, presharedKey, allowedIPs: [`${subnet}.2/32`] }],
  });
  const b = await startWireGuardPeer({
    privateKey: keysB.privateKey,
    addresses: [`${subnet}.2/24`],
    peers: [
      {
        publicKey: keysA.publicKey,
        presharedKey,
        endpoint: a.endpoint,
        allowedIPs: [`${subnet}.1/32`],
      },
    ],
  });
  await a.setPeer({
    publicKey: keysB.publicKey,
    presharedKey,
    endpoint: b.endpoint,
    allowedIPs: [`${subnet}.2/32`],
  });
  const keylog = join(options.dir, `keys-${a.ns.slot}.txt`);
  writeFileSync(
    keylog,
    `LOCAL_STATIC_PRIVATE_KEY = ${keysA.privateKey}\nLOCAL_STATIC_PRIVATE_KEY = ${keysB.privateKey}\n`,
  );
  return { a, b, keylog, staticA: keysA.publicKey, staticB: keysB.publicKey };
}
