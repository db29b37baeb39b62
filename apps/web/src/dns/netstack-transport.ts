/** The resolver's datagrams over the tunnel: a netstack UDP socket per query (resolver.ts). */
import type { Netstack } from "@wiregate/netstack";
import type { DnsTransport } from "./resolver.js";

export function netstackTransport(net: Netstack): DnsTransport {
  return {
    bind(port, receive) {
      const socket = net.udp.bind(port);
      void (async () => {
        const reader = socket.readable.getReader();
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return;
            receive(value.from, value.fromPort, value.data);
          }
        } catch {
          // Closed.
        }
      })();
      return {
        send: (server, serverPort, data) => socket.send(server, serverPort, data),
        close: () => socket.close(),
      };
    },
  };
}
