export * from "./client.js";
export * from "./deadline.js";
export * from "./frames.js";
export * from "./message-stream.js";
export * from "./relay-list.js";
export * from "./stream-sender.js";
