export * from "./events.js";
export { type HttpRequest, type HttpResponse, httpRequest } from "./http/client.js";
export {
  HttpConnection,
  type HttpExchange,
  HttpNoResponseError,
  replayable,
} from "./http/connection.js";
export {
  type Handler,
  type ServeOptions,
  type ServerRequest,
  type ServerResponse,
  serveHttp,
} from "./http/server.js";
export type { IpDatagram } from "./ip.js";
export {
  type Clock,
  Netstack,
  NetstackError,
  type NetstackOptions,
  realClock,
  type TcpConnection,
  type TcpServer,
  type UdpDatagram,
  type UdpSocket,
} from "./netstack.js";
export { type ConnectRequest, Stack, type StackOptions, type StackOutput } from "./stack.js";
export { DEFAULT_TCP_CONFIG, type KeepAlive, mssForMtu, type TcpConfig } from "./tcp/config.js";
export type { SendLimit, SendLimitTimes } from "./tcp/send-limits.js";
export type { TcpInfo, TcpSocket, TcpState } from "./tcp/socket.js";
export type { BufferBudget } from "./tcp/tcp-layer.js";
