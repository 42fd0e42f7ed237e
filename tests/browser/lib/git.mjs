// The real git client with a private HOME (no user or system config leaks in).
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export class Git {
  constructor(dir) {
    this.home = join(dir, "home");
    mkdirSync(this.home, { recursive: true });
  }

  async git(args, cwd) {
    const base = ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"];
    const { stdout } = await run("git", [...(cwd ? ["-C", cwd] : []), ...base, ...args], {
      env: { PATH: process.env.PATH, HOME: this.home, GIT_CONFIG_NOSYSTEM: "1", GIT_TERMINAL_PROMPT: "0" },
      timeout: 120000,
    });
    return stdout.trim();
  }

  async init(path) {
    await this.git(["init", "-q", path]);
    return path;
  }

  async commit(repo, name) {
    writeFileSync(join(repo, `${name}.txt`), `${name}\n`);
    await this.git(["add", `${name}.txt`], repo);
    await this.git(["commit", "-q", "-m", name], repo);
    return this.git(["rev-parse", "HEAD"], repo);
  }

  // Pushes to a node's https URL with sslVerify off for exactly that URL (what `mesh ssl` sets).
  async push(repo, node, name, ref = "main") {
    const url = `https://localhost:${node.port}`;
    await this.git(["-c", `http.${url}.sslVerify=false`, "push", "-q", `${url}/${name}.git`, ref], repo);
  }
}
