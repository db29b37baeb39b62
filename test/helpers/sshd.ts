/**
 * Debian's OpenSSH server in a test namespace, with its own sshd_config and host keys, and a test
 * user that exists only inside the namespace: `ip netns exec` bind-mounts the files of
 * /etc/netns/<namespace>/ over /etc, so the user's passwd/shadow/group lines and a PAM service
 * for sshd (password and keyboard-interactive through pam_unix) are seen by sshd alone.
 */
import type { ChildProcess } from "node:child_process";
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exited, runCommand, terminate } from "./command.js";
import type { Namespace } from "./namespace.js";
import { register } from "./registry.js";

export const SSHD = "/usr/sbin/sshd";
const UID = 4242;

export interface Sshd {
  readonly port: number;
  readonly user: string;
  readonly uid: number;
  readonly password: string;
  /** The user's home (a temp directory): files the shell writes can be read from the test. */
  readonly home: string;
  /** `ssh-keygen -lf` of the ECDSA host key: `256 SHA256:… root@… (ECDSA)`. */
  hostKeyFingerprint(type?: "ecdsa" | "ed25519" | "rsa"): Promise<string>;
  /** Replaces ~/.ssh/authorized_keys. */
  authorize(lines: string[]): void;
  /** New host keys, then sshd restarted on the same port. */
  rekey(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSshd(ns: Namespace, port = 22): Promise<Sshd> {
  const dir = mkdtempSync(join(tmpdir(), "wiregate-sshd-"));
  chmodSync(dir, 0o755);
  const etc = join("/etc/netns", ns.name);
  const user = "wgssh";
  const password = "correct horse battery";
  const home = join(dir, "home");
  const unregister = register({
    description: `sshd files ${dir} and ${etc}`,
    cleanupSync: () => {
      rmSync(dir, { recursive: true, force: true });
      rmSync(etc, { recursive: true, force: true });
    },
  });
  mkdirSync(join(home, ".ssh"), { recursive: true });
  chownSync(home, UID, UID);
  chownSync(join(home, ".ssh"), UID, UID);
  chmodSync(home, 0o755);
  // Privilege separation needs its empty directory.
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });

  const hash = (
    await runCommand("openssl", ["passwd", "-6", "-stdin"], { input: password })
  ).stdout.trim();
  mkdirSync(join(etc, "pam.d"), { recursive: true });
  writeFileSync(
    join(etc, "passwd"),
    `${readFileSync("/etc/passwd", "utf8").trimEnd()}\n${user}:x:${UID}:${UID}:wiregate test:${home}:/bin/bash\n`,
  );
  writeFileSync(
    join(etc, "group"),
    `${readFileSync("/etc/group", "utf8").trimEnd()}\n${user}:x:${UID}:\n`,
  );
  writeFileSync(
    join(etc, "shadow"),
    `${readFileSync("/etc/shadow", "utf8").trimEnd()}\n${user}:${hash}:19000:0:99999:7:::\n`,
    { mode: 0o640 },
  );
  for (const service of ["sshd", "other"]) {
    writeFileSync(
      join(etc, "pam.d", service),
      ["auth", "account", "password", "session"].map((t) => `${t} required pam_unix.so\n`).join(""),
    );
  }

  const keys = async () => {
    for (const type of ["ecdsa", "ed25519", "rsa"]) {
      const file = join(dir, `host_${type}`);
      rmSync(file, { force: true });
      rmSync(`${file}.pub`, { force: true });
      await runCommand("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", file]);
    }
  };
  await keys();
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 0.0.0.0",
      "ListenAddress ::",
      ...["ecdsa", "ed25519", "rsa"].map((t) => `HostKey ${join(dir, `host_${t}`)}`),
      `PidFile ${join(dir, "sshd.pid")}`,
      // The home is a temp directory under a world-writable /tmp.
      "StrictModes no",
      "UsePAM yes",
      "PasswordAuthentication yes",
      "KbdInteractiveAuthentication yes",
      "PubkeyAuthentication yes",
      "AuthorizedKeysFile .ssh/authorized_keys",
      `AllowUsers ${user}`,
      "PrintMotd no",
      "LogLevel VERBOSE",
      "",
    ].join("\n"),
  );

  let child: ChildProcess;
  const start = async () => {
    child = ns.spawn(SSHD, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    await new Promise<void>((resolve, reject) => {
      child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
        log += chunk;
        if (process.env.DBG) process.stderr.write(`[sshd] ${chunk}`);
        if (log.includes("Server listening on")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`sshd exited (${code}): ${log}`)));
    });
  };
  const stopChild = async () => {
    if (child.pid !== undefined) await terminate(child.pid);
    await exited(child);
  };
  await start();

  return {
    port,
    user,
    uid: UID,
    password,
    home,
    async hostKeyFingerprint(type = "ecdsa") {
      return (await runCommand("ssh-keygen", ["-lf", join(dir, `host_${type}.pub`)])).stdout.trim();
    },
    authorize(lines) {
      const file = join(home, ".ssh", "authorized_keys");
      writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 });
      chownSync(file, UID, UID);
    },
    async rekey() {
      await stopChild();
      await keys();
      await start();
    },
    async stop() {
      await stopChild();
      rmSync(dir, { recursive: true, force: true });
      rmSync(etc, { recursive: true, force: true });
      unregister();
    },
  };
}
