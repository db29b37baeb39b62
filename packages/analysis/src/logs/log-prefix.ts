/**
 * Time prefixes that tools put in front of a log line, with the resolution each gives:
 * - a Unix time (`1795765109.073074 …`, e.g. `ts '%.s'` or a script's `date +%s.%N`);
 * - ISO 8601 (`2026-11-27T07:38:29.073074+0000 host tag[pid]: …`, journalctl `-o short-iso-precise`);
 * - syslog style without a year (`Nov 27 07:38:29.073074 host tag[pid]: …`, journalctl `-o
 *   short-precise` and `-k`; `ts` with its default or a `%.S` format, without host and tag);
 * - dmesg's monotonic seconds (`[  123.456789] …`, also journalctl `-o short-monotonic`) and its
 *   `-T` form (`[Fri Nov 27 07:38:29 2026] …`, whole seconds).
 */
import type { LogClock } from "./log-event.js";

export interface PrefixTime {
  clock: LogClock;
  /** Resolution in seconds. */
  precision: number;
  /** Seconds on `clock` (for a yearless stamp: read as in 1970). */
  seconds: number;
  /** The stamp has no year: its seconds in a given year. */
  yearless?: (year: number) => number;
  /** The line after the prefix. */
  rest: string;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

const UNIX = /^(\d{9,11})(?:\.(\d{1,9}))?\s+/;
const ISO =
  /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?(Z|[+-]\d\d:?\d\d)?\s+/;
const SYSLOG = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?\s+/;
const DMESG = /^\[\s*(\d{1,10})\.(\d{1,9})\]\s+/;
const DMESG_T = /^\[[A-Z][a-z]{2} ([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})\]\s+/;
/** `host tag[pid]: ` after a journal or syslog stamp. */
const HOST_TAG = /^\S+ [^\s:[\]]+(?:\[\d+\])?: /;

function fraction(digits: string | undefined): { value: number; precision: number } {
  if (!digits) return { value: 0, precision: 1 };
  return { value: Number(`0.${digits}`), precision: 10 ** -digits.length };
}

function utcSeconds(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  return Date.UTC(y, mo, d, h, mi, s) / 1000;
}

/** The time prefix of a line, if it has one. */
export function parsePrefix(line: string): PrefixTime | undefined {
  let m = DMESG.exec(line);
  if (m) {
    const f = fraction(m[2]);
    return {
      clock: "monotonic",
      precision: f.precision,
      seconds: Number(m[1]) + f.value,
      rest: line.slice(m[0].length),
    };
  }
  m = DMESG_T.exec(line);
  if (m) {
    const month = MONTHS.indexOf(m[1]!);
    if (month < 0) return undefined;
    const [, , d, h, mi, s, y] = m.map(Number) as number[];
    return {
      clock: "wall",
      precision: 1,
      seconds: utcSeconds(y!, month, d!, h!, mi!, s!),
      rest: line.slice(m[0].length),
    };
  }
  m = UNIX.exec(line);
  if (m) {
    const f = fraction(m[2]);
    return {
      clock: "wall",
      precision: f.precision,
      seconds: Number(m[1]) + f.value,
      rest: line.slice(m[0].length),
    };
  }
  m = ISO.exec(line);
  if (m) {
    const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
    const f = fraction(m[7]);
    let offset = 0;
    const zone = m[8];
    if (zone && zone !== "Z") {
      const digits = zone.replace(":", "");
      offset =
        (Number(digits.slice(1, 3)) * 3600 + Number(digits.slice(3, 5)) * 60) *
        (digits[0] === "-" ? -1 : 1);
    }
    return {
      clock: "wall",
      precision: f.precision,
      seconds: utcSeconds(y!, mo! - 1, d!, h!, mi!, s!) + f.value - offset,
      rest: line.slice(m[0].length),
    };
  }
  m = SYSLOG.exec(line);
  if (m) {
    const month = MONTHS.indexOf(m[1]!);
    if (month < 0) return undefined;
    const [, , d, h, mi, s] = m.map(Number) as number[];
    const f = fraction(m[6]);
    return {
      clock: "wall",
      precision: f.precision,
      seconds: utcSeconds(1970, month, d!, h!, mi!, s!) + f.value,
      yearless: (year) => utcSeconds(year, month, d!, h!, mi!, s!) + f.value,
      rest: line.slice(m[0].length),
    };
  }
  return undefined;
}

/** The line without a journal's `host tag[pid]: ` (undefined if there is none). */
export function stripHostTag(rest: string): string | undefined {
  const m = HOST_TAG.exec(rest);
  return m ? rest.slice(m[0].length) : undefined;
}
