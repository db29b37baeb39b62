export * from "./crypto/types.js";
export * from "./messages.js";
