/**
 * Browse targets and their origins. Each web server inside the tunnel (host and port) is shown on
 * an origin of its own, whose host is one DNS label under a base name: `*.localhost` on the relay's
 * loopback listener, a wildcard name on a public relay. The label is the target, reversibly:
 *
 *   10.79.0.1:8080     → v4-8080-10-79-0-1
 *   [fd79::1]:80       → v6-80-fd79-0-0-0-0-0-0-1     (all eight groups, leading zeros dropped)
 *   demo.wiregate:80   → dn-80-demo-wiregate          (a name: "." → "-", "-" → "--")
 *
 * Lower case only (host names are case-insensitive), at most 63 characters (a longer name is
 * refused with a clear error), and never "--" at positions 3–4 (reserved for IDNA).
 */

export interface Target {
  /** IPv4 or IPv6 address (no brackets), or a host name, lower case. */
  host: string;
  port: number;
}

const NAME =
  /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** The eight groups of an IPv6 address, as numbers; undefined if it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.toLowerCase();
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    if (!IPV4.test(v4[2]!)) return undefined;
    const b = v4[2]!.split(".").map(Number);
    text = `${v4[1]}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  if (!/^[0-9a-f:]+$/.test(text) || text.split("::").length > 2) return undefined;
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const part = (s: string | undefined) => (s ? s.split(":") : []);
  const left = part(head);
  const right = part(tail);
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  const groups = [...left, ...Array<string>(tail === undefined ? 0 : missing).fill("0"), ...right];
  if (groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => Number.parseInt(g, 16));
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** The origin label of a target; throws a RangeError that says why when there is none. */
export function encodeTarget(target: Target): string {
  if (!validPort(target.port)) throw new RangeError(`port ${target.port} is not 1–65535`);
  const host = target.host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  let label: string;
  if (IPV4.test(host)) label = `v4-${target.port}-${host.replaceAll(".", "-")}`;
  else if (host.includes(":")) {
    const groups = ipv6Groups(host);
    if (!groups) throw new RangeError(`'${target.host}' is not an IPv6 address`);
    label = `v6-${target.port}-${groups.map((g) => g.toString(16)).join("-")}`;
  } else if (NAME.test(host) && !/^[\d.]+$/.test(host)) {
    label = `dn-${target.port}-${host.replaceAll("-", "--").replaceAll(".", "-")}`;
  } else throw new RangeError(`'${target.host}' is neither an IP address nor a host name`);
  if (label.length > 63)
    throw new RangeError(
      `the name ${host} is too long to be shown on an origin of its own (at most ${63 - 4 - String(target.port).length} characters)`,
    );
  return label;
}

/** The target of an origin label, or undefined if the label is not one `encodeTarget` writes. */
export function decodeTarget(label: string): Target | undefined {
  const m = /^(v4|v6|dn)-(\d{1,5})-([a-z0-9-]+)$/.exec(label);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (!validPort(port) || String(port) !== m[2]) return undefined;
  const body = m[3]!;
  let host: string;
  if (m[1] === "v4") host = body.replaceAll("-", ".");
  else if (m[1] === "v6") {
    const groups = body.split("-");
    if (groups.length !== 8 || groups.some((g) => !/^(0|[1-9a-f][0-9a-f]{0,3})$/.test(g)))
      return undefined;
    host = groups.join(":");
  } else host = body.replace(/--|-/g, (s) => (s === "--" ? "-" : "."));
  try {
    // Only the one spelling encodeTarget gives: a label has one target, a target one label.
    return encodeTarget({ host, port }) === label ? { host: canonicalHost(host), port } : undefined;
  } catch {
    return undefined;
  }
}

/** IPv6 addresses in their short form (as URLs write them), others as they are. */
function canonicalHost(host: string): string {
  return host.includes(":") ? new URL(`http://[${host}]/`).hostname.slice(1, -1) : host;
}

/** "http://10.79.0.1:8080/x" (or "10.79.0.1:8080/x") → the target and the path with its query. */
export function parseAddress(input: string): { target: Target; path: string } | { error: string } {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? input : `http://${input}`);
  } catch {
    return { error: `'${input}' is not a URL` };
  }
  if (url.protocol === "https:") {
    return {
      error:
        "HTTPS inside the tunnel cannot work here: the browser would need to trust the private server's certificate, and a page cannot open TLS over our TCP. Use http://.",
    };
  }
  if (url.protocol !== "http:") return { error: `only http:// addresses, not ${url.protocol}` };
  const target = { host: url.hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(url.port || 80) };
  try {
    encodeTarget(target);
  } catch (e) {
    return { error: (e as Error).message };
  }
  return { target, path: `${url.pathname}${url.search}${url.hash}` };
}

/** The URL of a target as its server knows it: "http://10.79.0.1:8080", "http://[fd79::1]". */
export function targetOrigin(target: Target): string {
  const host = target.host.includes(":") ? `[${target.host}]` : target.host;
  return `http://${host}${target.port === 80 ? "" : `:${target.port}`}`;
}

/**
 * Where Browse origins live: `{scheme}//{label}.{base}{:port}`. On the loopback listener the
 * base is `localhost` and the port the listener's.
 */
export interface OriginBase {
  scheme: "http:" | "https:";
  base: string;
  /** ":4480", or "" for the scheme's default port. */
  port: string;
}

/** The name under which Browse origins are of the page's own site (the relay serves the page there). */
export const PAGE_NAME = "wiregate.localhost";

/**
 * The Browse origins of a page served at `location` by the relay's loopback listener, or
 * undefined. At wiregate.localhost they are `<label>.wiregate.localhost`: the page's own site, so a
 * browser that blocks third-party storage still gives them their Service Workers. At localhost or
 * a loopback address they are `<label>.localhost`: another site, which such a browser refuses.
 */
export function loopbackOriginBase(location: {
  protocol: string;
  hostname: string;
  port: string;
}): OriginBase | undefined {
  if (location.protocol !== "http:") return undefined;
  const port = location.port ? `:${location.port}` : "";
  if (location.hostname === PAGE_NAME) return { scheme: "http:", base: PAGE_NAME, port };
  if (!["localhost", "127.0.0.1", "[::1]"].includes(location.hostname)) return undefined;
  return { scheme: "http:", base: "localhost", port };
}

/**
 * The Browse origins of a page served over https by a public relay whose wiregate.json names its
 * Browse domain: `https://<label>.<domain>{:port}`, on the page's own port (the relay's TLS
 * port). Undefined without a domain, or when it is no host name.
 */
export function publicOriginBase(
  location: { protocol: string; port: string },
  domain: string,
): OriginBase | undefined {
  const base = domain.toLowerCase().replace(/\.$/, "");
  if (location.protocol !== "https:" || !NAME.test(base) || !base.includes(".")) return undefined;
  return { scheme: "https:", base, port: location.port ? `:${location.port}` : "" };
}

/** Whether Browse origins of `base` are of another site than the page (third-party frames). */
export function crossSite(base: OriginBase): boolean {
  return base.base === "localhost";
}

export function browseOrigin(base: OriginBase, target: Target): string {
  return `${base.scheme}//${encodeTarget(target)}.${base.base}${base.port}`;
}

/** The target shown on a Browse origin, or undefined if the origin is not one. */
export function targetOfOrigin(base: OriginBase, origin: string): Target | undefined {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return undefined;
  }
  const suffix = `.${base.base}`;
  if (url.protocol !== base.scheme || (url.port ? `:${url.port}` : "") !== base.port)
    return undefined;
  if (!url.hostname.endsWith(suffix)) return undefined;
  const label = url.hostname.slice(0, -suffix.length);
  return label.includes(".") ? undefined : decodeTarget(label);
}
