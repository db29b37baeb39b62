import type { Namespace } from "./namespace.js";

/** What one direction's rules counted: packets seen, randomly dropped, and larger than the MTU. */
export interface LossCount {
  readonly seen: number;
  readonly dropped: number;
  readonly oversized: number;
}

export interface RandomLoss {
  /** Counts on the interface's input (packets to the namespace) and output (from it). */
  counts(): Promise<{ readonly input: LossCount; readonly output: LossCount }>;
  /** Deletes the rules and gives the interface back its GSO limit. */
  remove(): Promise<void>;
}

const TABLE = "wiregate_random_loss";

/**
 * Drops `percent` % of the packets each way on `ifname` in `ns` (nftables `numgen random`), one
 * segment at a time. The kernel's TCP builds GSO super-packets (tens of segments) that are cut
 * into segments only after the output hook, so a rule there would drop whole bursts, and fewer of
 * them than the rate says; `gso_max_segs 1` makes it hand the device single segments. The
 * `oversized` counter (packets larger than the MTU) proves it: it stays 0 while the rule is in.
 * A TCP connection takes the device's GSO limit when it is set up, so one opened before this call
 * keeps sending GSO packets (measured on a veth: 281 of 717 packets oversized): set
 * `gso_max_segs 1` on the interface before such a connection opens.
 */
export async function addRandomLoss(
  ns: Namespace,
  ifname: string,
  percent: number,
): Promise<RandomLoss> {
  const [link] = JSON.parse((await ns.exec("ip", ["-d", "-j", "link", "show", ifname])).stdout);
  const mtu: number = link.mtu;
  const gsoMaxSegs: number = link.gso_max_segs;
  await ns.exec("ip", ["link", "set", ifname, "gso_max_segs", "1"]);
  await ns.exec("nft", ["add", "table", "inet", TABLE]);
  for (const [chain, match] of [
    ["input", "iifname"],
    ["output", "oifname"],
  ] as const) {
    const rule = (...words: string[]) =>
      ns.exec("nft", ["add", "rule", "inet", TABLE, chain, match, ifname, ...words]);
    await ns.exec("nft", [
      "add",
      "chain",
      "inet",
      TABLE,
      chain,
      `{ type filter hook ${chain} priority 0; }`,
    ]);
    await rule("meta", "length", ">", String(mtu), "counter", "comment", '"oversized"');
    await rule("counter", "comment", '"seen"');
    const drop = ["numgen", "random", "mod", "100", "<", String(percent), "counter", "drop"];
    await rule(...drop, "comment", '"dropped"');
  }
  return {
    async counts() {
      const listing = JSON.parse(
        (await ns.exec("nft", ["-j", "list", "table", "inet", TABLE])).stdout,
      );
      const count = (chain: string, comment: string): number => {
        for (const item of listing.nftables) {
          const r = item.rule;
          if (r?.chain !== chain || r.comment !== comment) continue;
          for (const e of r.expr) if (e.counter) return e.counter.packets;
        }
        throw new Error(`nftables: no counter "${comment}" in chain ${chain}`);
      };
      const direction = (chain: string): LossCount => ({
        seen: count(chain, "seen"),
        dropped: count(chain, "dropped"),
        oversized: count(chain, "oversized"),
      });
      return { input: direction("input"), output: direction("output") };
    },
    async remove() {
      await ns.exec("nft", ["delete", "table", "inet", TABLE]);
      await ns.exec("ip", ["link", "set", ifname, "gso_max_segs", String(gsoMaxSegs)]);
    },
  };
}
