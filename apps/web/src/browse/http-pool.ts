/**
 * Browse's keep-alive pool, in the tunnel worker: HTTP/1.1 persistent connections (netstack's
 * HttpConnection) reused per target, as browsers do. Bounded like a browser's socket pool: at
 * most PER_TARGET connections to one target (busy, idle or being opened) and TOTAL across all
 * targets; a request beyond waits for one (at most QUEUED waiting, then refused). An idle
 * connection is kept IDLE_MS, then closed; when the total is reached, the idle connection of
 * another target unused the longest is closed to make room. A connection the server closed while
 * it was idle is not used again; if the server's close crossed the request (no byte of an answer
 * came back on a reused connection), an idempotent request is sent again once on a new
 * connection (RFC 9112 §9.3.1), as browsers do.
 */
import {
  type Clock,
  HttpConnection,
  type HttpExchange,
  HttpNoResponseError,
  type HttpRequest,
  replayable,
  type TcpConnection,
} from "@wiregate/netstack";

export interface PoolLimits {
  /** Connections to one target at once (Chromium and Firefox: 6). */
  perTarget: number;
  /** Connections to all targets at once. */
  total: number;
  /** How long an idle connection is kept. */
  idleMs: number;
  /** Requests waiting for a connection, all targets together. */
  queued: number;
}

export const POOL_LIMITS: PoolLimits = { perTarget: 6, total: 32, idleMs: 60_000, queued: 1024 };

/** Empty targets are forgotten once this many are known. */
const FORGET_AT = 64;

/** The pool's counts, for tests and the bound. */
export interface PoolStats {
  /** Open connections (busy, idle or being opened), all targets. */
  open: number;
  idle: number;
  queued: number;
  /** Open connections per target key. */
  perTarget: Record<string, number>;
  /** Connections opened, requests sent again after a close crossed them, waits refused. */
  opened: number;
  retried: number;
  refused: number;
}

interface Idle {
  conn: HttpConnection;
  timer: unknown;
  since: number;
}

interface Waiter {
  resolve(conn: HttpConnection | "open"): void;
}

interface Target {
  key: string;
  host: string;
  port: number;
  open: number;
  /** Most recently used last. */
  idle: Idle[];
  waiting: Waiter[];
}

export class HttpPool {
  readonly #targets = new Map<string, Target>();
  readonly #connect: (host: string, port: number) => Promise<TcpConnection>;
  readonly #clock: Clock;
  readonly #limits: PoolLimits;
  #open = 0;
  #queued = 0;
  #opened = 0;
  #retried = 0;
  #refused = 0;
  #closed = false;

  constructor(
    connect: (host: string, port: number) => Promise<TcpConnection>,
    clock: Clock,
    limits: PoolLimits = POOL_LIMITS,
  ) {
    this.#connect = connect;
    this.#clock = clock;
    this.#limits = limits;
  }

  get stats(): PoolStats {
    const perTarget: Record<string, number> = {};
    let idle = 0;
    for (const t of this.#targets.values()) {
      if (t.open > 0) perTarget[t.key] = t.open;
      idle += t.idle.length;
    }
    return {
      open: this.#open,
      idle,
      queued: this.#queued,
      perTarget,
      opened: this.#opened,
      retried: this.#retried,
      refused: this.#refused,
    };
  }

  /**
   * Sends `request` to `host`:`port` (an address) on a connection of the target `key` (one pool
   * per target: its origin). Resolves with the answer's head; its `done` says when the
   * connection went back to the pool.
   */
  async request(
    key: string,
    host: string,
    port: number,
    request: HttpRequest,
  ): Promise<HttpExchange> {
    for (let attempt = 0; ; attempt++) {
      const target = this.#target(key, host, port);
      const conn = await this.#acquire(target, attempt > 0);
      const reused = conn.requests > 0;
      try {
        const exchange = await conn.request(request);
        void exchange.done.then((reusable) => this.#release(target, conn, reusable));
        return exchange;
      } catch (e) {
        this.#release(target, conn, false);
        if (attempt === 0 && reused && e instanceof HttpNoResponseError && replayable(request)) {
          this.#retried++;
          continue;
        }
        throw e;
      }
    }
  }

  /** Closes every idle connection and refuses what waits (the tunnel's device went away). */
  close(): void {
    this.#closed = true;
    for (const target of this.#targets.values()) {
      for (const idle of target.idle.splice(0)) this.#drop(target, idle);
      for (const waiter of target.waiting.splice(0)) waiter.resolve("open");
    }
  }

  #target(key: string, host: string, port: number): Target {
    let target = this.#targets.get(key);
    if (!target) {
      // Targets with nothing open and nothing waiting hold nothing: forgotten when many.
      if (this.#targets.size >= FORGET_AT)
        for (const [k, t] of this.#targets)
          if (t.open === 0 && t.waiting.length === 0) this.#targets.delete(k);
      target = { key, host, port, open: 0, idle: [], waiting: [] };
      this.#targets.set(key, target);
    }
    // The name may resolve to another address now: new connections go there.
    target.host = host;
    target.port = port;
    return target;
  }

  async #acquire(target: Target, fresh: boolean): Promise<HttpConnection> {
    if (this.#closed) throw new Error("the tunnel's connections are closed");
    if (!fresh) {
      const idle = this.#takeIdle(target);
      if (idle) return idle;
    } else this.#discardUnusable(target);
    if (!this.#room(target)) {
      if (this.#queued >= this.#limits.queued) {
        this.#refused++;
        throw new Error(
          `too many requests waiting for a connection (${this.#limits.queued}); this one is refused`,
        );
      }
      this.#queued++;
      const got = await new Promise<HttpConnection | "open">((resolve) =>
        target.waiting.push({ resolve }),
      );
      this.#queued--;
      if (got !== "open") return got;
      if (this.#closed) throw new Error("the tunnel's connections are closed");
      // A slot was kept for us (counted already): open into it.
      return this.#openInto(target);
    }
    target.open++;
    this.#open++;
    return this.#openInto(target);
  }

  /** Opens a connection into a slot already counted for `target`. */
  async #openInto(target: Target): Promise<HttpConnection> {
    try {
      const tcp = await this.#connect(target.host, target.port);
      this.#opened++;
      return new HttpConnection(tcp);
    } catch (e) {
      this.#free(target);
      throw e;
    }
  }

  /** The most recently used usable idle connection of `target`; unusable ones are closed. */
  #takeIdle(target: Target): HttpConnection | undefined {
    for (let idle = target.idle.pop(); idle; idle = target.idle.pop()) {
      this.#clock.clearTimeout(idle.timer);
      if (idle.conn.usable) return idle.conn;
      this.#drop(target, idle, false);
    }
    return undefined;
  }

  #discardUnusable(target: Target): void {
    for (const idle of target.idle.filter((i) => !i.conn.usable)) {
      target.idle.splice(target.idle.indexOf(idle), 1);
      this.#drop(target, idle);
    }
  }

  /** Whether a new connection to `target` may open now (closing another target's idle one if needed). */
  #room(target: Target): boolean {
    if (target.open >= this.#limits.perTarget) return false;
    if (this.#open < this.#limits.total) return true;
    // Full: the idle connection of another target unused the longest makes room.
    let oldest: { target: Target; idle: Idle } | undefined;
    for (const t of this.#targets.values())
      for (const idle of t.idle)
        if (!oldest || idle.since < oldest.idle.since) oldest = { target: t, idle };
    if (!oldest) return false;
    oldest.target.idle.splice(oldest.target.idle.indexOf(oldest.idle), 1);
    this.#drop(oldest.target, oldest.idle);
    return this.#open < this.#limits.total;
  }

  /** An exchange ended: the connection goes to the next waiter, or idles, or is gone. */
  #release(target: Target, conn: HttpConnection, reusable: boolean): void {
    if (!reusable || this.#closed || !conn.usable) {
      conn.close();
      this.#free(target);
      return;
    }
    const waiter = target.waiting.shift();
    if (waiter) {
      waiter.resolve(conn);
      return;
    }
    const starved = [...this.#targets.values()].some(
      (t) => t.waiting.length > 0 && t.open < this.#limits.perTarget,
    );
    if (starved && this.#open >= this.#limits.total) {
      // Another target waits for room: this connection's slot goes to it.
      conn.close();
      this.#free(target);
      return;
    }
    const idle: Idle = { conn, since: this.#clock.now(), timer: undefined };
    idle.timer = this.#clock.setTimeout(() => {
      const at = target.idle.indexOf(idle);
      if (at < 0) return;
      target.idle.splice(at, 1);
      this.#drop(target, idle, false);
    }, this.#limits.idleMs);
    target.idle.push(idle);
  }

  #drop(target: Target, idle: Idle, clearTimer = true): void {
    if (clearTimer) this.#clock.clearTimeout(idle.timer);
    idle.conn.close();
    this.#free(target);
  }

  /** A connection of `target` is gone: its slot goes to a waiter (this target's first). */
  #free(target: Target): void {
    target.open--;
    this.#open--;
    const next =
      target.waiting.length > 0
        ? target
        : [...this.#targets.values()].find(
            (t) => t.waiting.length > 0 && t.open < this.#limits.perTarget,
          );
    if (!next) return;
    // The slot passes on, counted for the waiter's target.
    next.open++;
    this.#open++;
    next.waiting.shift()!.resolve("open");
  }
}
