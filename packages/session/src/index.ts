export * from "./client.js";
export * from "./frames.js";
