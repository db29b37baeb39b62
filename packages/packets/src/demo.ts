/**
 * Addressing of the demo peer's tunnel. Any client key is admitted, so each client's tunnel
 * addresses are derived from its public key: both sides compute them, nothing is negotiated.
 */
import { formatIp, nobleCrypto } from "@wiregate/core";

export const DEMO_SERVER_V4 = "10.99.0.1";
export const DEMO_SERVER_V6 = "fd99::1";
/** UDP port inside the tunnel where the demo peer echoes datagrams back. */
export const DEMO_ECHO_PORT = 7;

/** The tunnel addresses a client with this public key uses toward the demo peer. */
export function demoClientAddresses(publicKey: Uint8Array): { v4: string; v6: string } {
  const h = nobleCrypto.hash(new TextEncoder().encode("wiregate demo address"), publicKey);
  // 10.99.0.0/16 without .0.0, the server's .0.1 and the broadcast-looking .255.255.
  const host = 2 + (((h[0]! << 8) | h[1]!) % (0xfffe - 2));
  const v4 = formatIp({ family: 4, bytes: Uint8Array.of(10, 99, host >> 8, host & 0xff) });
  const v6Bytes = new Uint8Array(16);
  v6Bytes.set([0xfd, 0x99]);
  v6Bytes.set(h.subarray(2, 10), 8);
  v6Bytes[8]! |= 0x02; // never ::1 (the server)
  return { v4, v6: formatIp({ family: 6, bytes: v6Bytes }) };
}
