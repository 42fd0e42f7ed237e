// XSS on the repo pages: a branch, a tag, a file name, a commit message and a README carrying
// <script>, onerror= and javascript: payloads, and a repo name in the URL, render as inert text
// on every page that shows them: no dialog opens, no payload runs, the DOM has no handler
// attribute, no injected element and no javascript: URL, and the CSP reports nothing.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { cspViolations, launch, screenshotPath, watchedPage } from "./lib/browser.mjs";
import { Git } from "./lib/git.mjs";
import { env, eventually, Node } from "./lib/mesh.mjs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

// Every payload sets window.__xss and opens a dialog if it ever runs.
const run = (tag) => `window.__xss='${tag}';alert('${tag}')`;
const BRANCH = `x"><svg/onload=${run("branch").replace(/ /g, "")}>`;
const TAG = `t'><img/src=x/onerror=alert(1)>`;
const FILE = `<img src=x onerror="${run("file")}">.txt`;
const MESSAGE = `<script>${run("message")}</script><img src=x onerror="${run("message2")}">`;
const README =
  `# <script>${run("readme")}</script>\n\n<img src=x onerror="${run("readme-img")}">\n\n` +
  `[click me](javascript:${run("readme-link")})\n\n[also](JaVaScRiPt:alert(1))\n\n` +
  `![pic](javascript:alert(2))\n\n<a href="javascript:alert(3)">raw</a>\n`;

async function assertInert(page, problems, where) {
  assert.equal(await page.evaluate(() => window.__xss), undefined, `no payload ran on ${where}`);
  assert.deepEqual(problems.dialogs, [], `no dialog on ${where}`);
  assert.deepEqual(problems.errors, [], `no page error on ${where}`);
  assert.deepEqual(await cspViolations(page), [], `no CSP report on ${where}`);
  const dom = await page.evaluate(() => ({
    scripts: [...document.scripts].map((s) => s.getAttribute("src")),
    handlers: document.querySelectorAll("[onerror],[onload],[onclick],[onmouseover]").length,
    injected: document.querySelectorAll("main svg[onload], main img[src='x'], main iframe, main script").length,
    jsLinks: [...document.querySelectorAll("[href],[src]")].filter((e) =>
      /^\s*javascript:/i.test(e.getAttribute("href") || e.getAttribute("src") || ""),
    ).length,
  }));
  assert.deepEqual(dom.scripts, ["/assets/mesh.js"], `only the layout's script on ${where}`);
  assert.equal(dom.handlers, 0, `no handler attribute on ${where}`);
  assert.equal(dom.injected, 0, `no injected element on ${where}`);
  assert.equal(dom.jsLinks, 0, `no javascript: URL on ${where}`);
}

test("payloads in refs, file names, commit messages and READMEs are inert", { timeout: 420000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "mesh-browser-repo-xss-"));
  const node = new Node(dir, "a", "alice");
  node.writeConfig({ enabled: ["replication", "browse"], paths: [env("MESH_PLUGIN_DIR")] });
  let browser;
  let passed = false;
  try {
    browser = await launch();
    await node.start();
    const git = new Git(dir);
    const work = await git.init(join(dir, "work"));
    writeFileSync(join(work, "README.md"), README);
    writeFileSync(join(work, FILE), `<script>${run("content")}</script>\n`);
    await git.git(["add", "-A"], work);
    await git.git(["commit", "-q", "-m", MESSAGE + "\n\n" + MESSAGE], work);
    const head = await git.git(["rev-parse", "HEAD"], work);
    await git.git(["branch", BRANCH], work);
    await git.git(["tag", TAG], work);
    const url = `http://127.0.0.1:${node.port}`;
    await git.git(["push", "-q", `${url}/evil.git`, "main", BRANCH, TAG], work);
    await eventually(async () => JSON.stringify(await node.mesh(["repos"], { json: true })).includes(head), "the push");

    const { page, problems } = await watchedPage(browser.context);
    const enc = encodeURIComponent;
    const pages = {
      index: "/repos",
      repo: "/repos/evil",
      branch: `/repos/evil/tree/${enc(BRANCH)}`,
      tag: `/repos/evil/tree/${enc(TAG)}`,
      file: `/repos/evil/blob/main/${enc(FILE)}`,
      readme: "/repos/evil/blob/main/README.md",
      readmeSource: "/repos/evil/blob/main/README.md?plain=1",
      commit: `/repos/evil/commit/${head}`,
      commits: "/repos/evil/commits/main",
      badRepo: `/repos/${enc("<script>alert('repo')</script>")}`,
      badRef: `/repos/evil/tree/${enc("<img src=x onerror=alert('ref')>")}`,
      badPath: `/repos/evil/blob/main/${enc("<svg onload=alert(1)>")}`,
    };
    for (const [name, path] of Object.entries(pages)) {
      const res = await page.goto(node.url(path));
      const expect = name.startsWith("bad") ? [400, 404] : [200];
      assert.ok(expect.includes(res.status()), `${name}: ${path} answered ${res.status()}`);
      // Hover and click what carries a payload: nothing may run then either.
      for (const sel of ["main a", "main .commit-summary", "main .markdown-body"]) {
        const el = page.locator(sel).first();
        if ((await el.count()) > 0) await el.hover().catch(() => {});
      }
      await assertInert(page, problems, name);
      await page.screenshot({ path: screenshotPath(`repo-xss-${name}`), fullPage: true });
    }

    // The payloads are there, as text.
    await page.goto(node.url("/repos/evil"));
    const text = await page.textContent("main");
    for (const t of [BRANCH, TAG, FILE, MESSAGE]) assert.ok(text.includes(t), `shown as text: ${t}`);
    // Raw HTML in markdown is dropped (cmark-gfm without CMARK_OPT_UNSAFE): the tags go, the
    // text between them stays.
    assert.equal(await page.textContent("#readme .markdown-body h1"), run("readme"));
    // Links whose scheme was unsafe are plain text; nothing in the README points to a script.
    assert.ok((await page.textContent("#readme")).includes("click me"));
    assert.equal(await page.locator("#readme .markdown-body a").count(), 0);
    await page.goto(node.url(pages.commit));
    assert.equal(await page.textContent("h2.commit-summary"), MESSAGE);
    assert.equal(await page.textContent(".commit-body"), MESSAGE);
    await page.goto(node.url(pages.file));
    assert.equal(await page.textContent(".blob-text"), `<script>${run("content")}</script>\n`);
    await assertInert(page, problems, "the end");
    assert.deepEqual(problems.console.filter((m) => !/status of 40[04]/.test(m)), []);
    passed = true;
  } finally {
    if (browser) await browser.close();
    try {
      await node.stop();
    } catch {
      node.kill();
    }
    const reports = node.sanitizerReports();
    if (passed && !reports) rmSync(dir, { recursive: true, force: true });
    else console.error(`kept ${dir} for inspection`);
    if (reports) throw new Error("sanitizer report: " + reports);
  }
});
