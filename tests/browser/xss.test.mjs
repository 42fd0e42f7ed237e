// XSS: node names, repo names, refs and divergence data full of <script>, onerror= and
// javascript: payloads render as inert text on the node page (server-rendered), and stay inert
// when mesh.js re-renders the peers table from an SSE event. No dialog opens, no payload runs,
// and the CSP reports nothing (an injected inline handler would be a violation).
import assert from "node:assert/strict";
import { test } from "node:test";

import { cspViolations, launch, screenshotPath, watchedPage } from "./lib/browser.mjs";
import { env, eventually, Trio } from "./lib/mesh.mjs";

const BOB = `<img src=x onerror="window.__xss='bob';alert('bob')">`;
const CAROL = `<script>window.__xss='carol';alert("carol")</script>`;

async function assertInert(page, problems) {
  assert.equal(await page.evaluate(() => window.__xss), undefined, "no payload ran");
  assert.deepEqual(problems.dialogs, [], "no dialog opened");
  assert.deepEqual(problems.errors, []);
  assert.deepEqual(problems.console, []);
  assert.deepEqual(await cspViolations(page), []);
  const dom = await page.evaluate(() => ({
    scripts: [...document.scripts].map((s) => s.getAttribute("src")),
    handlers: document.querySelectorAll("[onerror],[onload],[onclick],[onmouseover]").length,
    images: document.querySelectorAll("main img, main iframe").length,
    jsLinks: [...document.querySelectorAll("[href],[src]")].filter((e) =>
      /^\s*javascript:/i.test(e.getAttribute("href") || e.getAttribute("src") || ""),
    ).length,
  }));
  assert.deepEqual(dom.scripts, ["/assets/mesh.js"], "only the layout's own script");
  assert.equal(dom.handlers, 0, "no event handler attribute reached the DOM");
  assert.equal(dom.images, 0, "no injected image or frame");
  assert.equal(dom.jsLinks, 0, "no javascript: URL in any attribute");
}

test("payloads in names, repos and divergences are inert", { timeout: 420000 }, async () => {
  const trio = new Trio("xss", [
    { name: "alice", enabled: ["xss-repos"], paths: [env("MESH_BROWSER_PLUGIN_DIR")] },
    { name: BOB, enabled: [] },
    { name: CAROL, enabled: [] },
  ]);
  let browser;
  try {
    browser = await launch();
    await trio.startAndPair();
    const { page, problems } = await watchedPage(browser.context);
    assert.equal((await page.goto(trio.a.url("/"))).status(), 200);
    await page.waitForSelector('html[data-mesh-live="open"]', { timeout: 30000 });

    const peers = await page.textContent("#peers-body");
    assert.ok(peers.includes(BOB), "bob's name is shown as text");
    assert.ok(peers.includes(CAROL), "carol's name is shown as text");
    const repos = await page.textContent("#repos");
    for (const text of [
      "<script>window.__xss='repo';alert('repo')</script>",
      `refs/heads/<img src=x onerror="window.__xss='ref';alert('ref')">`,
      "<iframe src=\"javascript:alert('div-node')\"></iframe>",
      "</code><script>window.__xss='discard'</script>",
      "javascript:alert('resolve')",
    ]) {
      assert.ok(repos.includes(text), `shown as text: ${text}\n${repos}`);
    }
    // The repo link is a path on this node, its name percent-encoded.
    const hrefs = await page.$$eval("#repos a.repo-name", (as) => as.map((a) => a.getAttribute("href")));
    assert.equal(hrefs.length, 2);
    for (const h of hrefs) assert.match(h, /^\/repos\/[A-Za-z0-9%._~-]+$/);
    // Hovering and clicking around the payloads does nothing either.
    await page.hover("#repos .divergence");
    await page.click("#repos .divergence code.command");
    await assertInert(page, problems);
    await page.screenshot({ path: screenshotPath("xss-node-page"), fullPage: true });

    // mesh.js rebuilds the peers table from the "peers" event: still text only.
    await page.evaluate(() => (window.__noReload = true));
    await trio.c.stop();
    await page.waitForFunction(
      (name) =>
        [...document.querySelectorAll("#peers-body tr.peer")].some(
          (tr) => tr.cells[0].textContent === name && tr.cells[1].textContent === "down",
        ),
      CAROL,
      { timeout: 90000 },
    );
    assert.equal(await page.evaluate(() => window.__noReload), true);
    assert.ok((await page.textContent("#peers-body")).includes(BOB));
    await assertInert(page, problems);
    await page.screenshot({ path: screenshotPath("xss-node-page-live"), fullPage: true });
    trio.passed = true;
  } finally {
    if (browser) await browser.close();
    await trio.close();
  }
});
