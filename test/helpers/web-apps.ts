/**
 * Three real web apps from Debian's packages, run in one test namespace with fixed configurations
 * written here (no systemd), each listening on every address of the namespace (its underlay, for a
 * browser on the host, and whatever tunnel address a WireGuard device there holds):
 *
 * - Jupyter Notebook (`jupyter-notebook`): a password login form, a session cookie and the `_xsrf`
 *   CSRF cookie, and kernels spoken to over a WebSocket.
 * - Syncthing (`syncthing`): an AngularJS single-page app that loads JSON from absolute paths
 *   (`/rest/...`) and sends its `CSRF-Token-<id>` cookie back as a header on every call.
 * - Prometheus (`prometheus`): its classic query page, which loads JSON from `/api/v1/...`.
 *
 * Every app writes only under one temporary directory; `stop()` ends them and removes it.
 */
import type { ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exited, runCommand, terminate } from "./command.js";
import type { Namespace } from "./namespace.js";
import { register } from "./registry.js";

/** Debian's python, not any other python3 on PATH: the notebook's modules live there. */
const PYTHON = "/usr/bin/python3";

export const JUPYTER_PORT = 8888;
/** A second Jupyter with no login and no XSRF check: the kernel's WebSocket without cookies. */
export const JUPYTER_OPEN_PORT = 8889;
export const SYNCTHING_PORT = 8384;
export const PROMETHEUS_PORT = 9090;

export interface WebApps {
  readonly jupyter: {
    readonly port: number;
    readonly password: string;
    /** A notebook with one empty code cell, at `/notebooks/<notebook>`. */
    readonly notebook: string;
    /** The notebook's JSON as saved on the server's disk. */
    readonly saved: () => unknown;
  };
  /**
   * The same notebook server without a login (no password, no token) and without its `_xsrf`
   * check: an app whose WebSocket needs no cookie, at `/notebooks/<notebook>`.
   */
  readonly jupyterOpen: {
    readonly port: number;
    readonly notebook: string;
    readonly saved: () => unknown;
  };
  readonly syncthing: {
    readonly port: number;
    /** The device name as the server's config.xml on disk has it. */
    readonly deviceName: () => string;
  };
  readonly prometheus: { readonly port: number };
  /** Each app's log so far, for a failure's message. */
  logs(): string;
  stop(): Promise<void>;
}

/** How long an app may take to answer its first request (a loaded machine is slow). */
const READY_MS = 60_000;

export async function startWebApps(ns: Namespace): Promise<WebApps> {
  const dir = mkdtempSync(join(tmpdir(), "wiregate-apps-"));
  chmodSync(dir, 0o755);
  const children: ChildProcess[] = [];
  const logs = new Map<string, string>();
  const unregister = register({
    description: `web app files ${dir}`,
    cleanupSync: () => rmSync(dir, { recursive: true, force: true }),
  });
  const spawnApp = (
    name: string,
    command: string,
    args: string[],
    env: Record<string, string> = {},
  ) => {
    const child = ns.spawn(command, args, {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: process.env.PATH, HOME: join(dir, name), ...env },
    });
    logs.set(name, "");
    const keep = (chunk: Buffer) => {
      const text = `${logs.get(name)}${chunk}`;
      logs.set(name, text.slice(-20_000));
      if (process.env.DBG) process.stderr.write(`[${name}] ${chunk}`);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    children.push(child);
    return child;
  };
  const allLogs = () => [...logs].map(([name, text]) => `--- ${name}\n${text}`).join("\n");
  const stop = async () => {
    await Promise.all(
      children.map(async (child) => {
        if (child.pid !== undefined) await terminate(child.pid);
        await exited(child);
      }),
    );
    rmSync(dir, { recursive: true, force: true });
    unregister();
  };

  try {
    const jupyter = await jupyterConfig(dir, JUPYTER_PORT, "wiregate notebook");
    spawnApp("jupyter", PYTHON, jupyter.args, jupyter.env);
    const open = await jupyterConfig(dir, JUPYTER_OPEN_PORT);
    spawnApp("jupyter-open", PYTHON, open.args, open.env);
    const syncthing = await syncthingConfig(dir);
    spawnApp("syncthing", "syncthing", syncthing.args, { STNODEFAULTFOLDER: "1" });
    spawnApp("prometheus", "prometheus", prometheusArgs(dir));
    await Promise.all([
      ready(ns, JUPYTER_PORT, "/login", 200, children[0]!, allLogs),
      ready(ns, JUPYTER_OPEN_PORT, "/api", 200, children[1]!, allLogs),
      ready(ns, SYNCTHING_PORT, "/", 200, children[2]!, allLogs),
      ready(ns, PROMETHEUS_PORT, "/-/ready", 200, children[3]!, allLogs),
    ]);
    const saved = (notebook: string) => () =>
      JSON.parse(readFileSync(join(dir, "notebooks", notebook), "utf8"));
    return {
      jupyter: {
        port: JUPYTER_PORT,
        password: jupyter.password ?? "",
        notebook: jupyter.notebook,
        saved: saved(jupyter.notebook),
      },
      jupyterOpen: {
        port: JUPYTER_OPEN_PORT,
        notebook: open.notebook,
        saved: saved(open.notebook),
      },
      syncthing: {
        port: SYNCTHING_PORT,
        deviceName: () => {
          const xml = readFileSync(syncthing.config, "utf8");
          const name = /<device id="[^"]+" name="([^"]*)"/.exec(xml)?.[1];
          if (name === undefined) throw new Error(`no device name in ${syncthing.config}`);
          return name
            .replace(/&#39;/g, "'")
            .replace(/&quot;/g, '"')
            .replace(/&amp;/g, "&");
        },
      },
      prometheus: { port: PROMETHEUS_PORT },
      logs: allLogs,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Polls `path` from inside the namespace until it answers `status`; fails if the app exits. */
async function ready(
  ns: Namespace,
  port: number,
  path: string,
  status: number,
  child: ChildProcess,
  logs: () => string,
): Promise<void> {
  const deadline = Date.now() + READY_MS;
  for (;;) {
    const r = await ns.exec(
      "curl",
      [
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "5",
        `http://127.0.0.1:${port}${path}`,
      ],
      { allowFailure: true },
    );
    if (r.stdout === String(status)) return;
    if (child.exitCode !== null) throw new Error(`the app on port ${port} exited:\n${logs()}`);
    if (Date.now() > deadline) {
      throw new Error(
        `the app on port ${port} did not answer ${path} within ${READY_MS} ms:\n${logs()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A notebook server on `port` with its own notebook; a password login, or none at all. */
async function jupyterConfig(dir: string, port: number, password?: string) {
  const home = join(dir, `jupyter-${port}`);
  const notebooks = join(dir, "notebooks");
  const notebook = `wiregate-${port}.ipynb`;
  await runCommand("mkdir", ["-p", home, notebooks]);
  const hash =
    password === undefined
      ? ""
      : (
          await runCommand(PYTHON, [
            "-c",
            "import sys; from notebook.auth import passwd; print(passwd(sys.argv[1], 'sha1'))",
            password,
          ])
        ).stdout.trim();
  writeFileSync(
    join(notebooks, notebook),
    JSON.stringify({
      cells: [{ cell_type: "code", execution_count: null, metadata: {}, outputs: [], source: [] }],
      metadata: {
        kernelspec: { display_name: "Python 3", language: "python", name: "python3" },
      },
      nbformat: 4,
      nbformat_minor: 5,
    }),
  );
  // Without ipywidgets, the notebook page loads the widgets' extension anyway and gets a 404
  // (text/html with nosniff), which Firefox reports as a page error (through Browse's Service
  // Worker as a failed interception, without the URL). An empty extension stands in for it, so a
  // page error in the apps' tests is ours.
  const widgets = join(home, "data", "nbextensions", "widgets", "notebook", "js");
  await runCommand("mkdir", ["-p", widgets]);
  writeFileSync(
    join(widgets, "extension.js"),
    "define([], function () { return { load_ipython_extension: function () {} }; });\n",
  );
  return {
    password,
    notebook,
    args: [
      "-m",
      "notebook",
      "--no-browser",
      "--allow-root",
      "--ip=0.0.0.0",
      `--port=${port}`,
      "--port-retries=0",
      `--notebook-dir=${notebooks}`,
      "--NotebookApp.token=",
      `--NotebookApp.password=${hash}`,
      "--NotebookApp.allow_remote_access=True",
      "--NotebookApp.open_browser=False",
      "--MappingKernelManager.cull_idle_timeout=0",
      ...(password === undefined ? ["--NotebookApp.disable_check_xsrf=True"] : []),
    ],
    env: {
      JUPYTER_CONFIG_DIR: join(home, "config"),
      JUPYTER_DATA_DIR: join(home, "data"),
      JUPYTER_RUNTIME_DIR: join(home, "runtime"),
      IPYTHONDIR: join(home, "ipython"),
    },
  };
}

async function syncthingConfig(dir: string) {
  const home = join(dir, "syncthing");
  await runCommand("syncthing", ["generate", `--home=${home}`, "--no-default-folder"]);
  const config = join(home, "config.xml");
  let xml = readFileSync(config, "utf8");
  // Nothing leaves the namespace: no discovery, relays, NAT, usage or crash reports.
  const options: Record<string, string> = {
    globalAnnounceEnabled: "false",
    localAnnounceEnabled: "false",
    relaysEnabled: "false",
    natEnabled: "false",
    urAccepted: "-1",
    startBrowser: "false",
    crashReportingEnabled: "false",
    autoUpgradeIntervalH: "0",
    listenAddress: "tcp://127.0.0.1:22000",
  };
  for (const [key, value] of Object.entries(options)) {
    xml = xml.replace(new RegExp(`<${key}>[^<]*</${key}>`), `<${key}>${value}</${key}>`);
  }
  xml = xml
    .replace(/(<device id="[^"]+" name=")[^"]*"/, '$1wiregate-apps"')
    .replace(
      /<gui ([^>]*)>\s*<address>[^<]*<\/address>/,
      `<gui $1><address>0.0.0.0:${SYNCTHING_PORT}</address>`,
    );
  writeFileSync(config, xml);
  return {
    config,
    args: ["serve", `--home=${home}`, "--no-browser", "--no-restart", "--no-upgrade"],
  };
}

function prometheusArgs(dir: string): string[] {
  const config = join(dir, "prometheus.yml");
  writeFileSync(
    config,
    [
      "global:",
      "  scrape_interval: 1s",
      "scrape_configs:",
      "  - job_name: prometheus",
      "    static_configs:",
      `      - targets: ["127.0.0.1:${PROMETHEUS_PORT}"]`,
      "",
    ].join("\n"),
  );
  return [
    `--config.file=${config}`,
    `--storage.tsdb.path=${join(dir, "prometheus")}`,
    `--web.listen-address=:${PROMETHEUS_PORT}`,
  ];
}
