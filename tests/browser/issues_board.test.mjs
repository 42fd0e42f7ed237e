// The issues board of a real 3-node mesh in headless Chromium (issue #14): on alice's board a
// user drags a card to a new place (and moves one with the keyboard), filters by a label
// chip, closes an issue and posts a markdown comment on its page; bob's board and issue page,
// open in another tab on another node, show each change without a reload; every node's CLI
// agrees. XSS payloads in a title, a body, a label and a comment stay inert text on both
// nodes' pages. No page logs an error, opens a dialog or violates the CSP.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";

import { cspViolations, launch, screenshotPath, watchedPage } from "./lib/browser.mjs";
import { Git } from "./lib/git.mjs";
import { env, eventually, Trio } from "./lib/mesh.mjs";

const run = (tag) => `window.__xss='${tag}';alert('${tag}')`;
const XSS_TITLE = `<img src=x onerror="${run("title")}"><script>${run("title2")}</script>`;
const XSS_BODY =
  `# <script>${run("body")}</script>\n\n<img src=x onerror="${run("body-img")}">\n\n` +
  `[click](javascript:${run("body-link")})\n\n<a href="javascript:alert(1)">raw</a>\n`;
const XSS_LABEL = `"><svg/onload=alert(4)>`;
// Inline raw HTML (cmark-gfm drops the tags and keeps the text between them).
const XSS_COMMENT = `Look: <b onmouseover="${run("comment")}">hover</b> <iframe src="javascript:alert(5)"></iframe>`;

// The card ids of each column of the board on `page`, in order (visible cards only).
const columns = (page) =>
  page.evaluate(() => {
    const out = {};
    for (const col of document.querySelectorAll(".issues-column")) {
      out[col.getAttribute("data-column")] = [...col.querySelectorAll(".issues-card")]
        .filter((c) => !c.hidden)
        .map((c) => c.getAttribute("data-id"));
    }
    return out;
  });

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

async function openLive(page, url, ready) {
  const res = await page.goto(url);
  assert.equal(res.status(), 200, `${url} answered ${res.status()}`);
  await page.waitForSelector(`${ready}[data-ready="1"]`, { timeout: 30000 });
  await page.waitForSelector('html[data-mesh-live="open"]', { timeout: 30000 });
  // Nothing below may reload this page: the marker must survive.
  await page.evaluate(() => (window.__noReload = true));
}

async function assertNotReloaded(page, where) {
  assert.equal(await page.evaluate(() => window.__noReload), true, `${where} was not reloaded`);
}

async function assertInert(page, problems, where) {
  assert.equal(await page.evaluate(() => window.__xss), undefined, `no payload ran on ${where}`);
  assert.deepEqual(problems.dialogs, [], `no dialog on ${where}`);
  assert.deepEqual(problems.errors, [], `no page error on ${where}`);
  assert.deepEqual(await cspViolations(page), [], `no CSP report on ${where}`);
  const dom = await page.evaluate(() => ({
    handlers: [...document.querySelectorAll("*")].filter((e) =>
      [...e.attributes].some((a) => /^on/i.test(a.name)),
    ).length,
    injected: document.querySelectorAll("main img[src='x'], main svg, main iframe, main script, main b").length,
    jsLinks: [...document.querySelectorAll("[href],[src]")].filter((e) =>
      /^\s*javascript:/i.test(e.getAttribute("href") || e.getAttribute("src") || ""),
    ).length,
    scripts: [...document.scripts].map((s) => s.getAttribute("src")),
  }));
  assert.equal(dom.handlers, 0, `no handler attribute on ${where}`);
  assert.equal(dom.injected, 0, `no injected element on ${where}`);
  assert.equal(dom.jsLinks, 0, `no javascript: URL on ${where}`);
  for (const s of dom.scripts) assert.match(s, /^\/assets\//, `only the node's scripts on ${where}`);
}

test("the issues board: drag, filter, close, comment, live on another node; payloads inert", { timeout: 540000 }, async () => {
  const plugins = [env("MESH_PLUGIN_DIR")];
  const enabled = ["replication", "issues"];
  const trio = new Trio("issues-board", [
    { name: "alice", enabled, paths: plugins },
    { name: "bob", enabled, paths: plugins },
    { name: "carol", enabled, paths: plugins },
  ]);
  let browser;
  try {
    browser = await launch();
    await trio.startAndPair();
    const git = new Git(trio.dir);
    const work = await git.init(join(trio.dir, "work"));
    const head = await git.commit(work, "first");
    await git.push(work, trio.a, "app");
    for (const n of trio.nodes) {
      await eventually(async () => JSON.stringify(await n.mesh(["repos"], { json: true })).includes(head), `${n.name} to have app`);
    }
    const create = async (node, title, labels = [], body = "") => {
      const args = ["issues", "new", "app", "--title", title, "--body", body];
      for (const l of labels) args.push("--label", l);
      return (await node.mesh(args, { json: true })).id;
    };
    const first = await create(trio.a, "First card", ["bug"]);
    const second = await create(trio.a, "Second card", ["ui"]);
    const third = await create(trio.a, "Third card", ["bug", "ui"]);
    const list = async (n) => (await n.mesh(["issues", "list", "app", "--state", "all"], { json: true })).map((i) => i.id);
    await eventually(async () => same(await list(trio.b), [first, second, third]), "bob to have the three cards");

    const A = await watchedPage(browser.context);
    const B = await watchedPage(browser.context);
    await openLive(A.page, trio.a.url("/repos/app/issues"), "#issues-board");
    await openLive(B.page, trio.b.url("/repos/app/issues"), "#issues-board");
    assert.deepEqual((await columns(A.page)).open, [first, second, third]);
    assert.deepEqual((await columns(B.page)).open, [first, second, third]);
    assert.match(await A.page.title(), /^Issues · app/);
    await A.page.screenshot({ path: screenshotPath("issues-board"), fullPage: true });

    // Drag the third card above the first (Sortable.js, native drag and drop).
    const card = (page, id) => page.locator(`.issues-card[data-id="${id}"]`);
    const moved = A.page.waitForResponse((r) => r.url().endsWith(`/issues/${third}/move`) && r.request().method() === "POST");
    await card(A.page, third).dragTo(card(A.page, first), { targetPosition: { x: 20, y: 5 } });
    const answer = await moved;
    assert.equal(answer.status(), 200, await answer.text());
    assert.deepEqual((await columns(A.page)).open, [third, first, second]);
    // It persisted: every node's CLI has the new order, and bob's open board shows it.
    for (const n of trio.nodes) {
      await eventually(async () => same(await list(n), [third, first, second]), `${n.name}'s order after the drag`);
    }
    await B.page.waitForFunction(
      (want) => [...document.querySelectorAll('.issues-column[data-column="open"] .issues-card')].map((c) => c.getAttribute("data-id")).join() === want,
      [third, first, second].join(),
      { timeout: 60000 },
    );
    await assertNotReloaded(B.page, "bob's board");

    // The keyboard does the same: Alt+ArrowDown moves the focused card one down.
    await card(A.page, third).focus();
    const keyed = A.page.waitForResponse((r) => r.url().endsWith(`/issues/${third}/move`));
    await A.page.keyboard.press("Alt+ArrowDown");
    assert.equal((await keyed).status(), 200);
    await eventually(async () => same(await list(trio.c), [first, third, second]), "carol's order after the key move");
    await B.page.waitForFunction(
      (want) => [...document.querySelectorAll('.issues-column[data-column="open"] .issues-card')].map((c) => c.getAttribute("data-id")).join() === want,
      [first, third, second].join(),
      { timeout: 60000 },
    );

    // Filter by a label chip: only the ui cards stay, the address keeps it, a reload too.
    await A.page.click('#issues-chips [data-chip="ui"]');
    assert.deepEqual((await columns(A.page)).open, [third, second]);
    assert.match(A.page.url(), /\?label=ui$/);
    assert.equal(await A.page.textContent('.issues-column[data-column="open"] [data-count]'), "2");
    await A.page.screenshot({ path: screenshotPath("issues-board-filtered"), fullPage: true });
    await A.page.reload();
    await A.page.waitForSelector('#issues-board[data-ready="1"]');
    assert.deepEqual((await columns(A.page)).open, [third, second]);
    await A.page.click('#issues-chips [data-chip="ui"]');
    assert.deepEqual((await columns(A.page)).open, [first, third, second], "a second click shows all again");
    // The text box filters too.
    await A.page.fill("#issues-q", "second");
    assert.deepEqual((await columns(A.page)).open, [second]);
    await A.page.fill("#issues-q", "");

    // On the second card's page alice closes it and comments in markdown; bob's board and
    // his page of that issue follow without a reload.
    const P = await watchedPage(browser.context);
    const Q = await watchedPage(browser.context);
    await openLive(P.page, trio.a.url("/repos/app/issues/2"), "#issues-page");
    await openLive(Q.page, trio.b.url("/repos/app/issues/2"), "#issues-page");
    await Promise.all([P.page.waitForURL(/\/issues\/2$/), P.page.click("#issues-close")]);
    assert.equal(await P.page.textContent("#issues-state"), "closed");
    await B.page.waitForFunction(
      (id) => !!document.querySelector(`.issues-column[data-column="closed"] .issues-card[data-id="${id}"]`),
      second,
      { timeout: 60000 },
    );
    await assertNotReloaded(B.page, "bob's board");
    await Q.page.waitForFunction(() => document.querySelector("#issues-state")?.textContent === "closed", null, { timeout: 60000 });
    await P.page.fill("#issues-comment-body", "Fixed in **main**, see `start()`.\n\n- [x] tested");
    await Promise.all([P.page.waitForURL(/\/issues\/2$/), P.page.click("#issues-comment-submit")]);
    assert.equal(await P.page.textContent(".issues-comment .markdown-body strong"), "main");
    assert.equal(await P.page.textContent(".issues-comment .markdown-body code"), "start()");
    await Q.page.waitForSelector(".issues-comment .markdown-body strong", { timeout: 60000 });
    assert.equal(await Q.page.textContent(".issues-comment .markdown-body strong"), "main");
    await assertNotReloaded(Q.page, "bob's issue page");
    const shown = await trio.c.mesh(["issues", "show", "app", "2"], { json: true });
    assert.equal(shown.state, "closed");
    assert.equal(shown.comments.length, 1);
    await P.page.screenshot({ path: screenshotPath("issues-issue"), fullPage: true });
    for (const [w, where] of [[A, "alice's board"], [B, "bob's board"], [P, "alice's issue"], [Q, "bob's issue"]]) {
      assert.deepEqual(w.problems.console, [], `console on ${where}`);
      await assertInert(w.page, w.problems, where);
    }

    // Payloads: a title, a body, a label and a comment, made on alice, seen on bob.
    const evil = await create(trio.a, XSS_TITLE, [XSS_LABEL], XSS_BODY);
    await trio.a.mesh(["issues", "comment", "app", evil, "--body", XSS_COMMENT]);
    await eventually(async () => (await trio.b.mesh(["issues", "show", "app", evil], { json: true, check: false }))?.comments?.length === 1, "bob to have the payloads");
    for (const node of [trio.a, trio.b]) {
      const { page, problems } = await watchedPage(browser.context);
      for (const path of ["/repos/app/issues", `/repos/app/issues/${evil}`, `/repos/app/issues?label=${encodeURIComponent(XSS_LABEL)}`]) {
        const res = await page.goto(node.url(path));
        assert.equal(res.status(), 200, path);
        await page.waitForSelector('[data-ready="1"]');
        for (const sel of [".issues-card", ".issues-comment", ".markdown-body", ".label"]) {
          const el = page.locator(sel).first();
          if ((await el.count()) > 0) await el.hover().catch(() => {});
        }
        await assertInert(page, problems, `${node.name} ${path}`);
      }
      // The payloads are there, as text.
      await page.goto(node.url(`/repos/app/issues/${evil}`));
      assert.equal(await page.textContent(".issues-title-text"), XSS_TITLE);
      assert.ok((await page.textContent("#issues-labels")).includes(XSS_LABEL));
      assert.equal(await page.textContent(".issues-body .markdown-body h1"), run("body"), "raw HTML dropped, its text kept");
      assert.equal(await page.locator(".issues-body .markdown-body a").count(), 0, "no javascript: link");
      assert.match(await page.textContent(".issues-comment .markdown-body"), /Look: hover/);
      await page.screenshot({ path: screenshotPath(`issues-xss-${node.name}`), fullPage: true });
      assert.deepEqual(problems.console.filter((m) => !/status of 40[04]/.test(m)), [], `console on ${node.name}`);
      await page.close();
    }
    trio.passed = true;
  } finally {
    if (browser) await browser.close();
    await trio.close();
  }
});
