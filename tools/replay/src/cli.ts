#!/usr/bin/env node
import { run } from "./commands.js";

// Writing into a closed pipe (e.g. `| head`) ends the program quietly.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // Bad input never reaches here; this is a bug in the tool.
    process.stderr.write(`wiregate-replay: internal error: ${(error as Error).message}\n`);
    process.exitCode = 70;
  },
);
