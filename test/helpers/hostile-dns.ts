/**
 * A hostile DNS server inside a test namespace (hostile-dns.mjs): for every query, floods of
 * wrong-ID and unsolicited answers, then an answer as big as a datagram holds with the largest
 * TTL there is. For the attack test of the page's resolver.
 */
import { fileURLToPath } from "node:url";
import type { Namespace } from "./namespace.js";

export interface HostileDns {
  /** Queries received so far. */
  queries(): number;
  stop(): void;
}

/**
 * Starts it on `address`:53 in `ns` (an address of the namespace); resolves once it listens. Every
 * answer's first record is `real` (v4 for A, v6 for AAAA), the others made up.
 */
export async function startHostileDns(
  ns: Namespace,
  address: string,
  real: { v4: string; v6: string },
  flood = 20,
): Promise<HostileDns> {
  const script = fileURLToPath(new URL("./hostile-dns.mjs", import.meta.url));
  const child = ns.spawn(process.execPath, [script, address, String(flood), real.v4, real.v6], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let queries = 0;
  let output = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      const text = String(chunk);
      queries += text.match(/^query /gm)?.length ?? 0;
      if (!output.includes("ready")) {
        output += text;
        if (output.includes("ready")) resolve();
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += String(chunk);
    });
    child.once("exit", (code) =>
      reject(new Error(`hostile DNS server exited (${code}): ${output}`)),
    );
  });
  return {
    queries: () => queries,
    stop: () => child.kill("SIGKILL"),
  };
}
