// Real mesh daemons for the browser tests, the way tests/integration/harness.* starts them:
// temporary roots, `--listen 127.0.0.1:0`, invite/join through the real CLI. No mocks.
import { execFile } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the browser tests through ctest (label browser)`);
  return v;
}

// Polls fn until it returns a truthy value; the bound only turns a hang into a failure.
export async function eventually(fn, what, boundMs = 60000) {
  const end = Date.now() + boundMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export class Node {
  constructor(parent, dirName, nodeName) {
    this.root = join(parent, dirName);
    this.name = nodeName;
    this.listen = "";
    this.pid = 0;
  }

  async mesh(args, { json = false, check = true } = {}) {
    const argv = ["--root", this.root, ...(json ? ["--json"] : []), ...args];
    try {
      const { stdout } = await run(env("MESH"), argv, { timeout: 60000, maxBuffer: 16 << 20 });
      return json ? JSON.parse(stdout) : stdout;
    } catch (e) {
      if (!check) return null;
      throw new Error(`mesh ${args.join(" ")} (${this.name}) failed: ${e.stderr || e.message}`);
    }
  }

  // mesh.toml as the integration harness writes it; `enabled` plugins from `paths`.
  writeConfig({ enabled = [], paths = [] } = {}) {
    mkdirSync(this.root, { recursive: true });
    const list = (xs) => "[" + xs.map((x) => JSON.stringify(x)).join(", ") + "]";
    writeFileSync(
      join(this.root, "mesh.toml"),
      `[node]\nname = ${JSON.stringify(this.name)}\n\n[http]\nlisten = "127.0.0.1:0"\n\n` +
        `[plugins]\nenabled = ${list(enabled)}\npaths = ${list(paths)}\n\n` +
        // Beacons stay on loopback: tests never send to the machine's real networks.
        `[discovery]\ntargets = ["239.255.42.42", "127.255.255.255"]\nmulticast_if = "127.0.0.1"\n`,
    );
  }

  async start() {
    const started = await this.mesh(["start", "--detach", ...(this.listen ? ["--listen", this.listen] : [])], {
      json: true,
    });
    this.pid = started.pid;
    this.listen = started.listen;
  }

  async stop() {
    await this.mesh(["stop"]);
    const pid = this.pid;
    this.pid = 0;
    await eventually(() => !alive(pid), `${this.name} to exit`, 30000);
  }

  get port() {
    return Number(this.listen.slice(this.listen.lastIndexOf(":") + 1));
  }

  url(path) {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async peers() {
    return (await this.mesh(["peers"], { json: true, check: false })) || [];
  }

  // What a sanitizer build's daemon reported (it writes to <root>/logs/daemon.out).
  sanitizerReports() {
    let text = "";
    try {
      for (const f of readdirSync(join(this.root, "logs"))) {
        if (f === "daemon.out") text += readFileSync(join(this.root, "logs", f), "utf8");
      }
    } catch {
      return "";
    }
    const m = text.match(/.*(AddressSanitizer|LeakSanitizer|runtime error:).*/);
    return m ? m[0] : "";
  }

  kill() {
    if (this.pid && alive(this.pid)) process.kill(this.pid, "SIGKILL");
    this.pid = 0;
  }
}

function alive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie counts as gone.
  try {
    return !/^\S+\s+\S+\s+Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8").replace(/\(.*\)/, "x"));
  } catch {
    return false;
  }
}

// Three nodes: B joins A, C joins B; waits until all see all up.
export class Trio {
  constructor(tag, configs) {
    this.dir = mkdtempSync(join(tmpdir(), `mesh-browser-${tag}-`));
    this.nodes = configs.map((c, i) => {
      const n = new Node(this.dir, ["a", "b", "c"][i], c.name);
      n.writeConfig(c);
      return n;
    });
    this.passed = false;
  }

  get a() {
    return this.nodes[0];
  }
  get b() {
    return this.nodes[1];
  }
  get c() {
    return this.nodes[2];
  }

  async startAndPair() {
    for (const n of this.nodes) await n.start();
    const invite = async (n) => (await n.mesh(["invite"], { json: true })).token;
    await this.b.mesh(["join", await invite(this.a)]);
    await this.c.mesh(["join", await invite(this.b)]);
    await eventually(
      async () => {
        for (const n of this.nodes) {
          const up = (await n.peers()).filter((p) => p.state === "up").length;
          if (up !== 2) return false;
        }
        return true;
      },
      "every node to see both others up",
      90000,
    );
  }

  // Stops what still runs; keeps the directory (logs) when the test failed.
  async close() {
    const reports = [];
    for (const n of this.nodes) {
      if (n.pid) {
        try {
          await n.stop();
        } catch {
          n.kill();
        }
      }
      const r = n.sanitizerReports();
      if (r) reports.push(`${n.name}: ${r}`);
    }
    if (this.passed && !reports.length) rmSync(this.dir, { recursive: true, force: true });
    else console.error(`kept ${this.dir} for inspection`);
    if (reports.length) throw new Error("sanitizer reports:\n" + reports.join("\n"));
  }
}
