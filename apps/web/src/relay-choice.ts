/**
 * Choosing a relay of a fleet: dial every relay at once, time each to its welcome and then a few
 * round trips of a stats request on its control stream (what the relay answers at once), keep the
 * session of the one with the shortest round trip and close the others. The ranking is also the
 * order in which the page moves on when it loses its relay (tunnel.ts).
 */
import type { RelayConnection } from "@wiregate/relay-protocol";
import type { RelayMeasurement, RelayTarget } from "./protocol.js";

/** Round trips per relay; the best one counts (the first may still be settling). */
const PINGS = 3;
/** A stats request unanswered this long: that relay is not used. */
const PING_TIMEOUT_MS = 2_000;

export interface Dialled {
  conn: Pick<RelayConnection, "stats" | "close">;
  kind: "native" | "websocket";
}

export interface FleetChoice<T extends Dialled> {
  /** In the order of the targets. */
  measurements: RelayMeasurement[];
  /** Target indices, best first; those that could not be used last, in their order. */
  ranking: number[];
  /** The best relay's open session (the others are closed); absent when none could be used. */
  best?: { index: number; opened: T };
  /** Why each relay that could not be used failed, by target index. */
  errors: Map<number, unknown>;
  /** Why the best one, for the Status screen. */
  reason: string;
}

/** Resolves with `promise`, or rejects after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The best of PINGS control-stream round trips. */
async function roundTrip(conn: Dialled["conn"], now: () => number): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < PINGS; i++) {
    const sent = now();
    await within(conn.stats(), PING_TIMEOUT_MS, "control-stream ping");
    best = Math.min(best, now() - sent);
  }
  return best;
}

const ms = (value: number) => `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;

function reasonFor(measurements: RelayMeasurement[], ranking: number[]): string {
  const usable = ranking.filter((i) => measurements[i]!.rttMs !== undefined);
  const first = measurements[usable[0]!]!;
  if (usable.length === 1) {
    const others = measurements.filter((m) => m !== first);
    return `the only relay of ${measurements.length} that answered (${others
      .map((m) => `${m.name}: ${m.error}`)
      .join("; ")})`;
  }
  const second = measurements[usable[1]!]!;
  return `shortest control-stream round trip: ${ms(first.rttMs!)} (next best: ${second.name}, ${ms(
    second.rttMs!,
  )})`;
}

export async function chooseRelay<T extends Dialled>(
  targets: readonly RelayTarget[],
  dial: (target: RelayTarget) => Promise<T>,
  now: () => number,
): Promise<FleetChoice<T>> {
  const errors = new Map<number, unknown>();
  const results = await Promise.all(
    targets.map(async (target, index) => {
      const measurement: RelayMeasurement = { name: target.name, url: target.url };
      const started = now();
      let opened: T | undefined;
      try {
        opened = await dial(target);
        measurement.connectMs = now() - started;
        measurement.transport = opened.kind;
        measurement.rttMs = await roundTrip(opened.conn, now);
        return { measurement, opened };
      } catch (error) {
        opened?.conn.close();
        errors.set(index, error);
        measurement.error = (error as Error)?.message ?? String(error);
        return { measurement, opened: undefined };
      }
    }),
  );
  const measurements = results.map((r) => r.measurement);
  const rank = (i: number) => measurements[i]!.rttMs ?? Number.POSITIVE_INFINITY;
  // A stable sort: equal round trips keep the list's order.
  const ranking = targets.map((_, i) => i).sort((a, b) => rank(a) - rank(b));
  const bestIndex = ranking[0]!;
  const bestOpened = results[bestIndex]!.opened;
  for (const [i, r] of results.entries()) if (i !== bestIndex) r.opened?.conn.close();
  if (!bestOpened) return { measurements, ranking, errors, reason: "no relay answered" };
  return {
    measurements,
    ranking,
    errors,
    best: { index: bestIndex, opened: bestOpened },
    reason: reasonFor(measurements, ranking),
  };
}
