#!/usr/bin/env node
// The command npm links at install time. It exists before the TypeScript is compiled, so `npx wiregate-relay`
// works in a fresh clone once `npm install` (which builds) has run.
try {
  await import("../dist/cli.js");
} catch (error) {
  if (error?.code === "ERR_MODULE_NOT_FOUND" && String(error.message).includes("dist/cli.js")) {
    process.stderr.write(
      "wiregate-relay: not built yet; run `npm run build` at the repository root\n",
    );
    process.exit(70);
  }
  throw error;
}
