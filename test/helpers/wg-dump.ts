/** `wg show <iface> dump`, parsed. Keys are base64 as wg prints them. */
export interface WgDump {
  readonly privateKey: string;
  readonly publicKey: string;
  readonly listenPort: number;
  /** null when wg prints "off". */
  readonly fwmark: number | null;
  readonly peers: readonly WgPeerStatus[];
}

export interface WgPeerStatus {
  readonly publicKey: string;
  readonly presharedKey: string | null;
  /** "ip:port" or "[ip6]:port"; null until known. */
  readonly endpoint: string | null;
  readonly allowedIPs: readonly string[];
  /** Unix seconds of the latest completed handshake; 0 = never. */
  readonly latestHandshake: number;
  readonly transferRx: number;
  readonly transferTx: number;
  /** Seconds; null when off. */
  readonly persistentKeepaliveSeconds: number | null;
}

/**
 * Parses the tab-separated dump format: one interface line (private key, public key, listen port,
 * fwmark), then one line per peer (public key, preshared key, endpoint, allowed ips, latest
 * handshake, rx bytes, tx bytes, persistent keepalive).
 */
export function parseWgDump(text: string): WgDump {
  const lines = text.split("\n").filter((line) => line.length > 0);
  const header = lines[0]?.split("\t");
  if (header?.length !== 4) throw new Error(`unexpected wg dump interface line: ${lines[0]}`);
  const [privateKey, publicKey, listenPort, fwmark] = header as [string, string, string, string];
  return {
    privateKey,
    publicKey,
    listenPort: Number(listenPort),
    fwmark: fwmark === "off" ? null : Number(fwmark),
    peers: lines.slice(1).map(parsePeerLine),
  };
}

function parsePeerLine(line: string): WgPeerStatus {
  const fields = line.split("\t");
  if (fields.length !== 8) throw new Error(`unexpected wg dump peer line: ${line}`);
  const [publicKey, psk, endpoint, allowed, handshake, rx, tx, keepalive] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  return {
    publicKey,
    presharedKey: psk === "(none)" ? null : psk,
    endpoint: endpoint === "(none)" ? null : endpoint,
    allowedIPs: allowed === "(none)" ? [] : allowed.split(","),
    latestHandshake: Number(handshake),
    transferRx: Number(rx),
    transferTx: Number(tx),
    persistentKeepaliveSeconds: keepalive === "off" ? null : Number(keepalive),
  };
}
