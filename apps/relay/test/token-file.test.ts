/** Tokens from a file: the relay process's command line and environment never show them. */

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/cli-options.js";
import { connect, type Echo, roundTrip, startEcho } from "./helpers.js";
import { type RelayProcess, spawnRelay } from "./relay-process.js";

const SECRET = "file-token-4f6c2a9e0b7d1385";
const dir = mkdtempSync(join(tmpdir(), "wiregate-token-file-"));
const tokenFile = join(dir, "tokens");
let echo: Echo;
let relay: RelayProcess;

beforeAll(async () => {
  echo = await startEcho();
  writeFileSync(tokenFile, `# relay tokens\n\n${SECRET}\n`, { mode: 0o600 });
  relay = await spawnRelay(
    [`--token-file=${tokenFile}`, `--upstream=echo=127.0.0.1:${echo.port}`],
    {},
  );
});
afterAll(async () => {
  relay?.stop();
  await echo.close();
});

describe("--token-file", () => {
  it("admits the file's token, which appears in neither argv nor the environment", async () => {
    const conn = await connect(relay.address, { token: SECRET });
    await roundTrip(conn, conn.datagrams[Symbol.asyncIterator](), 1);
    conn.close();
    await expect(connect(relay.address, { token: "some-other-token-0123" })).rejects.toMatchObject({
      code: "unauthorized",
    });
    for (const view of ["cmdline", "environ"]) {
      expect(readFileSync(`/proc/${relay.child.pid}/${view}`, "latin1")).not.toContain(SECRET);
    }
  });

  it("names the file when it is missing, empty or holds a bad token", async () => {
    const empty = join(dir, "empty");
    writeFileSync(empty, "# nothing\n");
    const short = join(dir, "short");
    writeFileSync(short, "short\n");
    const errorsOf = async (file: string) => {
      const result = await loadConfig([`--token-file=${file}`], {});
      return result.ok ? [] : result.errors;
    };
    expect(await errorsOf(join(dir, "missing"))).toEqual([
      expect.stringMatching(/^token file .*missing: ENOENT/),
    ]);
    expect(await errorsOf(empty)).toEqual([`token file ${empty}: no tokens in it`]);
    expect(await errorsOf(short)).toEqual([
      `token file ${short}: tokens[0]: must be a string of 16-1024 characters`,
    ]);
  });
});
