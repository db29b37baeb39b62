/**
 * An HTTP server run by a namespace's kernel TCP (python3's http.server): GET serves files from a
 * directory (/bytes/N answers N pseudo-random bytes), PUT/POST answers the SHA-256 of the body.
 */
import type { ChildProcess } from "node:child_process";
import type { Namespace } from "./namespace.js";

const SERVER = `
import hashlib, socket, sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
class Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_GET(self):
        if self.path.startswith("/bytes/"):
            n = int(self.path[7:])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            block = bytes((i * 31 + (i >> 8)) & 0xff for i in range(65536))
            while n > 0:
                k = min(n, len(block)); self.wfile.write(block[:k]); n -= k
            return
        return super().do_GET()
    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0")); h = hashlib.sha256()
        while n > 0:
            chunk = self.rfile.read(min(n, 65536))
            if not chunk: break
            h.update(chunk); n -= len(chunk)
        body = h.hexdigest().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_POST = do_PUT
class Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    request_queue_size = 128
Server(("::", int(sys.argv[1])), Handler).serve_forever()
`;

/** Starts the server in `ns` on `port`, serving `directory`; resolves once it accepts connections. */
export async function startHttpServer(
  ns: Namespace,
  port: number,
  directory: string,
): Promise<ChildProcess> {
  const child = ns.spawn("python3", ["-c", SERVER, String(port)], {
    cwd: directory,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += String(d);
  });
  for (let i = 0; i < 100; i++) {
    const r = await ns.exec("ss", ["-ltn", `sport = :${port}`], { allowFailure: true });
    if (r.stdout.includes(`:${port}`)) return child;
    if (child.exitCode !== null) throw new Error(`http server exited: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`http server did not listen on ${port}: ${stderr}`);
}
