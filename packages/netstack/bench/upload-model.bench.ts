/**
 * A model of an upload in virtual time: two stacks joined by a link with a 2 ms round trip,
 * 5 MB from one to the other, with seeded random loss each way (and jitter, which reorders). It
 * prints the virtual throughput and what the sender did, for this build's defaults (RACK-TLP and
 * CUBIC) next to Reno's window (`cubic: false`) and NewReno's recovery (`sackRecovery: false`) in
 * the same run. Deterministic: the same build prints the same numbers on any machine.
 */
import { it } from "vitest";
import type { TcpConfig } from "../src/tcp/config.js";
import { Pair } from "../test/pair.js";
import { pattern, startTransfer } from "../test/transfer.js";

const BYTES = 5_000_000;
const LINKS = [
  { name: "no loss, 0.2 ms jitter", loss: 0, jitter: 0.2 },
  { name: "1 % loss each way", loss: 0.01, jitter: 0 },
  { name: "3 % loss each way", loss: 0.03, jitter: 0 },
  { name: "3 % loss, 0.2 ms jitter", loss: 0.03, jitter: 0.2 },
];
const SENDERS: { name: string; tcp: Partial<TcpConfig> }[] = [
  { name: "RACK-TLP, CUBIC", tcp: {} },
  { name: "RACK-TLP, Reno window", tcp: { cubic: false } },
  { name: "NewReno recovery", tcp: { sackRecovery: false } },
];

it("uploads 5 MB in virtual time over a 2 ms round trip", () => {
  const lines: string[] = [];
  for (const link of LINKS) {
    for (const sender of SENDERS) {
      const pair = new Pair({ ...link, delay: 1, seed: 7 }, { tcp: sender.tcp }, {});
      const t = startTransfer(pair, pattern(BYTES));
      pair.run(() => t.ended.b === true, 3_600_000);
      const s = pair.a.stats;
      const rate = (BYTES * 8) / pair.now / 1000;
      lines.push(
        `${link.name.padEnd(24)} ${sender.name.padEnd(22)} ${rate.toFixed(1).padStart(6)} Mbit/s, ` +
          `${s.retransmissions} retransmissions, ${s.timeouts} timeouts, ${s.lossProbes} loss probes`,
      );
    }
  }
  console.log(`\n${lines.join("\n")}`);
});
