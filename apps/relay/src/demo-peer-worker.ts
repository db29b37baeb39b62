/**
 * The worker thread's side of `DemoPeerThread`: runs a `DemoPeer` on this thread and answers the
 * relay's requests (demo-peer-thread.ts) over the thread's message port.
 */
import { parentPort, threadId, workerData } from "node:worker_threads";
import { DemoPeer } from "./demo-peer.js";
import type { DemoThreadRequest, DemoThreadSettings, FromDemoThread } from "./demo-peer-thread.js";

const port = parentPort;
if (!port) throw new Error("demo-peer-worker.js runs as a worker thread only");
const { trace, ...options } = workerData as DemoThreadSettings;
const post = (message: FromDemoThread) => port.postMessage(message);

const peer = await DemoPeer.start({
  ...options,
  // `at` is taken here, when the event happened, not when the relay's thread logs it.
  ...(trace
    ? { onEvent: (event) => post({ type: "event", event: { ...event, at: Date.now() } }) }
    : {}),
});

function answer(request: DemoThreadRequest): unknown {
  switch (request.op) {
    case "addressesFor":
      return peer.addressesFor(request.publicKey);
    case "clientConfig":
      return peer.clientConfig(request.client, request.endpoint);
    case "initiateHandshake":
      return peer.initiateHandshake(request.publicKey);
    case "clientCount":
      return peer.clientCount;
    case "close":
      return peer.close();
  }
}

port.on("message", async (request: DemoThreadRequest) => {
  try {
    post({ type: "reply", id: request.id, ok: true, value: await answer(request) });
  } catch (error) {
    post({
      type: "reply",
      id: request.id,
      ok: false,
      error: (error as Error)?.message ?? `${error}`,
    });
  }
});
post({ type: "ready", publicKey: peer.publicKey, host: peer.host, port: peer.port, threadId });
