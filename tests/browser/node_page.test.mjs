// The node page of a real 3-node mesh in headless Chromium: node facts, peers with their state,
// the repos section, no console errors and no CSP violations; then, without a reload, a new
// push shows up in the repos section and a stopped peer goes down in the table and the header.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";

import { cspViolations, launch, screenshotPath, watchedPage } from "./lib/browser.mjs";
import { Git } from "./lib/git.mjs";
import { env, eventually, Trio } from "./lib/mesh.mjs";

const peerState = (page, name) =>
  page.evaluate((n) => {
    for (const tr of document.querySelectorAll("#peers-body tr.peer")) {
      if (tr.cells[0].textContent === n) return tr.cells[1].textContent;
    }
    return null;
  }, name);

test("the node page shows a live 3-node mesh", { timeout: 420000 }, async () => {
  const plugins = [env("MESH_PLUGIN_DIR")];
  const trio = new Trio("node-page", [
    { name: "alice", enabled: ["replication"], paths: plugins },
    { name: "bob", enabled: ["replication"], paths: plugins },
    { name: "carol", enabled: ["replication"], paths: plugins },
  ]);
  let browser;
  try {
    browser = await launch();
    await trio.startAndPair();
    const git = new Git(trio.dir);
    const work = await git.init(join(trio.dir, "work"));
    const first = await git.commit(work, "first");
    await git.push(work, trio.a, "demo");
    await eventually(
      async () => JSON.stringify(await trio.a.mesh(["repos"], { json: true })).includes(first),
      "alice to have demo",
    );

    const { page, problems } = await watchedPage(browser.context);
    const response = await page.goto(trio.a.url("/"));
    assert.equal(response.status(), 200);
    const headers = response.headers();
    assert.match(headers["content-security-policy"], /script-src 'self'/);
    assert.equal(headers["x-content-type-options"], "nosniff");
    await page.waitForSelector('html[data-mesh-live="open"]', { timeout: 30000 });

    assert.equal(await page.title(), "alice · mesh");
    assert.equal(await page.textContent("#node-name"), "alice");
    const nodeId = (await trio.a.mesh(["status"], { json: true })).node.id;
    assert.ok((await page.textContent("#node")).includes(nodeId), "the node id is shown");
    assert.ok((await page.textContent("#node")).includes(trio.a.listen), "and its address");
    assert.equal(await peerState(page, "bob"), "up");
    assert.equal(await peerState(page, "carol"), "up");
    assert.equal(await page.textContent("#peers-status .peers-count"), "2/2 peers up");
    assert.equal(await page.locator("#peers-status svg circle.up").count(), 2);
    assert.match(await page.textContent("#peers-body"), /\d+s ago|just now/);
    assert.ok((await page.textContent("#repos")).includes("demo"));
    assert.ok((await page.textContent("#repos")).includes(first.slice(0, 12)));
    assert.ok((await page.textContent("#plugins")).includes("replication"));
    // The stylesheet is applied (served from /assets with the page's CSP).
    const headerBg = await page.evaluate(() => getComputedStyle(document.querySelector(".site-header")).backgroundColor);
    assert.notEqual(headerBg, "rgba(0, 0, 0, 0)");
    assert.equal(await page.evaluate(() => window.mesh.csrf), await page.getAttribute('meta[name="mesh-csrf"]', "content"));
    await page.screenshot({ path: screenshotPath("node-page"), fullPage: true });

    // From here on nothing reloads the page: the marker must survive.
    await page.evaluate(() => (window.__noReload = true));

    const second = await git.commit(work, "second");
    await git.push(work, trio.a, "demo");
    await page.waitForFunction(
      (sha) => document.querySelector("#repos").textContent.includes(sha),
      second.slice(0, 12),
      { timeout: 60000 },
    );

    await trio.c.stop();
    await eventually(async () => (await peerState(page, "carol")) === "down", "carol to go down on the page", 90000);
    assert.equal(await peerState(page, "bob"), "up");
    assert.equal(await page.textContent("#peers-status .peers-count"), "1/2 peers up");
    assert.equal(await page.locator("#peers-status svg circle.down").count(), 1);
    assert.equal(await page.textContent("#peers-up-count"), "1/2");
    assert.equal(await page.evaluate(() => window.__noReload), true, "the page was not reloaded");
    assert.equal(problems.loads, 1);
    await page.screenshot({ path: screenshotPath("node-page-peer-down"), fullPage: true });

    // The assets revalidate: same ETag -> 304.
    const css = await page.evaluate(async () => {
      const r = await fetch("/assets/mesh.css");
      const etag = r.headers.get("etag");
      const again = await fetch("/assets/mesh.css", { headers: { "If-None-Match": etag }, cache: "no-store" });
      return { status: r.status, etag, again: again.status, type: r.headers.get("content-type") };
    });
    assert.equal(css.status, 200);
    assert.match(css.etag, /^"[0-9a-f]{32}"$/);
    assert.equal(css.again, 304);
    assert.equal(css.type, "text/css; charset=utf-8");

    assert.deepEqual(problems.console, []);
    assert.deepEqual(problems.errors, []);
    assert.deepEqual(problems.dialogs, []);
    assert.deepEqual(await cspViolations(page), []);
    trio.passed = true;
  } finally {
    if (browser) await browser.close();
    await trio.close();
  }
});
