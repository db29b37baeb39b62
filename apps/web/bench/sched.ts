/**
 * Where the CPU goes during a browser bench, read from the kernel's scheduler statistics: each
 * process's time on a CPU and time runnable but waiting for one. On a loaded machine the second
 * says who is starved; per datagram, the first says what a path costs in each process.
 */
import { readdirSync, readFileSync } from "node:fs";

export type SchedTimes = Map<string, { run: number; wait: number }>;

/**
 * Per process kind (this process, and Chromium's or Firefox's processes below it): time on a
 * CPU and time runnable but waiting for one (the scheduler's run queue), in ns, from
 * /proc/PID/task/TID/schedstat. On a loaded machine the second says who is starved. This process
 * is split in its main thread (the relay's JavaScript) and its other threads (worker threads such
 * as a demo peer's, libuv's pool, V8's helpers).
 */
export function schedTimes(): SchedTimes {
  const parent = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, "utf8");
      parent.set(Number(name), Number(text.slice(text.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {}
  }
  const below = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p))
      if (p === process.pid) return true;
    return false;
  };
  const times = new Map<string, { run: number; wait: number }>();
  for (const pid of parent.keys()) {
    let kind = "this process (node)";
    try {
      if (pid !== process.pid) {
        if (!below(pid)) continue;
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        if (cmdline.includes("chrom")) {
          const type = /--type=([a-z-]+)/.exec(cmdline)?.[1];
          const service = /--utility-sub-type=([\w.]+)/.exec(cmdline)?.[1];
          kind = `chromium ${type ? (service ? (service.split(".").at(-1) ?? type) : type) : "browser"}`;
        } else if (cmdline.includes("firefox")) {
          // Content processes come from Firefox's fork server with its command line: their name
          // (Isolated Web Co, Socket Process, RDD Process, …) tells them apart.
          kind = `firefox ${readFileSync(`/proc/${pid}/comm`, "utf8").trim()}`;
        } else continue;
      }
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ");
        const of =
          pid !== process.pid ? kind : Number(tid) === pid ? `${kind}: main` : `${kind}: others`;
        const entry = times.get(of) ?? { run: 0, wait: 0 };
        entry.run += Number(run);
        entry.wait += Number(wait);
        times.set(of, entry);
      }
    } catch {}
  }
  return times;
}

/** Share of `wallMs` each process kind spent on a CPU and waiting for one (kinds under 1 % left out). */
export function cpuShares(
  before: SchedTimes,
  after: SchedTimes,
  wallMs: number,
): Record<string, { onCpu: number; waitingForCpu: number }> {
  const shares: Record<string, { onCpu: number; waitingForCpu: number }> = {};
  for (const [kind, now] of after) {
    const then = before.get(kind) ?? { run: 0, wait: 0 };
    const onCpu = (now.run - then.run) / (wallMs * 1e6);
    if (onCpu < 0.01) continue;
    shares[kind] = {
      onCpu: Number(onCpu.toFixed(2)),
      waitingForCpu: Number(((now.wait - then.wait) / (wallMs * 1e6)).toFixed(2)),
    };
  }
  return shares;
}
