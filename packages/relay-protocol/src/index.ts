export * from "./client.js";
export * from "./frames.js";
export * from "./message-stream.js";
export * from "./stream-sender.js";
