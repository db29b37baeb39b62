/** A pair whose link records every TCP segment and may drop some by a rule. */
import { parseIpPacket } from "../src/ip.js";
import type { TcpConfig } from "../src/tcp/config.js";
import { parseSegment, type Segment } from "../src/tcp/segment.js";
import { type LinkOptions, Pair, type Side } from "./pair.js";

export interface Seen {
  at: number;
  from: Side;
  seg: Segment;
  packet: Uint8Array;
}

/** A pair whose link records every TCP segment (and may drop some by a rule). */
export function tapped(
  link: LinkOptions = {},
  drop?: (s: Seen, index: number) => boolean,
  tcp: Partial<TcpConfig> = {},
) {
  const seen: Seen[] = [];
  let pair!: Pair;
  pair = new Pair(
    {
      ...link,
      tamper: (p, from) => {
        const d = parseIpPacket(p);
        if (!d.ok) return p;
        const s = parseSegment(d.datagram.packet, d.datagram.offset);
        if (!s.ok) return p;
        const entry = { at: pair.now, from, seg: s.segment, packet: p };
        seen.push(entry);
        return drop?.(entry, seen.length - 1) ? undefined : p;
      },
    },
    { tcp },
    { tcp },
  );
  return { pair, seen };
}
