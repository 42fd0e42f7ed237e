// The repo pages of a real 3-node mesh in headless Chromium: every node serves /repos and the
// repo's page for a repo pushed to one of them; on alice a user clicks from the node page to the
// repo, sees the README rendered (a table, an image loaded from the repo, a link inside it), the
// branches, tags, commits and the activity sparkline, then clicks to a file, a directory, a
// commit with its diffstat, the log, and the Issues and CI tabs. A screenshot of each page
// lands in the build tree; no page logs an error, opens a dialog or violates the CSP.
import assert from "node:assert/strict";
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { cspViolations, launch, screenshotPath, watchedPage } from "./lib/browser.mjs";
import { Git } from "./lib/git.mjs";
import { env, eventually, Trio } from "./lib/mesh.mjs";

// A 1x1 PNG.
const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d4948445200000001000000010806000000" +
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5f0d6a80000000049454e44ae426082",
  "hex",
);

function assertClean(problems, csp, where) {
  assert.deepEqual(problems.console, [], `console on ${where}`);
  assert.deepEqual(problems.errors, [], `page errors on ${where}`);
  assert.deepEqual(problems.dialogs, [], `dialogs on ${where}`);
  assert.deepEqual(csp, [], `CSP violations on ${where}`);
}

test("repo pages: from the node page to a repo, a file, a commit", { timeout: 540000 }, async () => {
  const plugins = [env("MESH_PLUGIN_DIR")];
  const enabled = ["replication", "browse", "issues", "ci"];
  const trio = new Trio("repo-pages", [
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
    writeFileSync(
      join(work, "README.md"),
      "# Demo project\n\nRead the [guide](docs/guide.md).\n\n| tool | use |\n|---|---|\n| mesh | sharing |\n\n" +
        "![logo](img/logo.png)\n",
    );
    mkdirSync(join(work, "docs"));
    mkdirSync(join(work, "img"));
    mkdirSync(join(work, "src"));
    writeFileSync(join(work, "docs", "guide.md"), "# The guide\n\nBack to the [readme](../README.md).\n");
    writeFileSync(join(work, "img", "logo.png"), PNG);
    writeFileSync(join(work, "src", "main.c"), "#include <stdio.h>\n\nint main(void) {\n  return 0;\n}\n");
    await git.git(["add", "-A"], work);
    await git.git(["commit", "-q", "-m", "Initial import"], work);
    writeFileSync(join(work, "src", "main.c"), "#include <stdio.h>\n\nint main(void) {\n  puts(\"hi\");\n  return 0;\n}\n");
    await git.git(["commit", "-q", "-am", "Say hi\n\nPrints a greeting."], work);
    const head = await git.git(["rev-parse", "HEAD"], work);
    await git.git(["branch", "feature/login"], work);
    await git.git(["tag", "v1.0"], work);
    const url = `https://localhost:${trio.a.port}`;
    await git.git(["-c", `http.${url}.sslVerify=false`, "push", "-q", `${url}/demo.git`, "main", "feature/login", "v1.0"], work);
    for (const n of trio.nodes) {
      await eventually(
        async () => JSON.stringify(await n.mesh(["repos"], { json: true })).includes(head),
        `${n.name} to have demo at ${head}`,
        90000,
      );
    }

    // Every node serves the index and the repo page.
    for (const n of trio.nodes) {
      const { page, problems } = await watchedPage(browser.context);
      const index = await page.goto(n.url("/repos"));
      assert.equal(index.status(), 200, `/repos on ${n.name}`);
      assert.ok((await page.textContent("#repo-list")).includes("Say hi"));
      assert.equal(await page.locator("#repo-list svg.sparkline").count(), 1);
      await page.screenshot({ path: screenshotPath(`repos-index-${n.name}`), fullPage: true });
      const repo = await page.goto(n.url("/repos/demo"));
      assert.equal(repo.status(), 200, `/repos/demo on ${n.name}`);
      assert.match(repo.headers()["content-security-policy"], /script-src 'self'/);
      assert.equal(await page.textContent(".repo-title"), "demo");
      assert.equal(await page.locator("#commits li.commit").count(), 2);
      await page.screenshot({ path: screenshotPath(`repo-${n.name}`), fullPage: true });
      assertClean(problems, await cspViolations(page), `${n.name}'s pages`);
      await page.close();
    }

    // A user on alice: the node page, then one click to the repo.
    const { page, problems } = await watchedPage(browser.context);
    const failed = [];
    page.on("response", (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${new URL(r.url()).pathname}`);
    });
    assert.equal((await page.goto(trio.a.url("/"))).status(), 200);
    await Promise.all([page.waitForURL(/\/repos\/demo$/), page.click('#repos a.repo-name:has-text("demo")')]);
    assert.equal(await page.title(), "demo · mesh");
    // Branches and tags with their tips, the last commits with author and date.
    const branches = await page.textContent("#branches");
    assert.ok(branches.includes("main") && branches.includes("feature/login"));
    assert.ok(branches.includes(head.slice(0, 10)));
    assert.ok((await page.textContent("#tags")).includes("v1.0"));
    const commits = await page.$$eval("#commits li.commit", (lis) =>
      lis.map((li) => ({
        summary: li.querySelector(".commit-summary").textContent,
        author: li.querySelector(".commit-author").textContent,
        when: li.querySelector("time").textContent,
      })),
    );
    assert.deepEqual(commits.map((c) => c.summary), ["Say hi", "Initial import"]);
    assert.equal(commits[0].author, "t");
    assert.match(commits[0].when, /ago|just now/);
    // The README as GitHub-flavoured markdown: heading, table, and the image from the repo.
    assert.equal(await page.textContent("#readme .markdown-body h1"), "Demo project");
    assert.equal(await page.locator("#readme .markdown-body table td").first().textContent(), "mesh");
    await page.waitForFunction(() => {
      const img = document.querySelector("#readme .markdown-body img");
      return img && img.complete && img.naturalWidth === 1;
    });
    assert.equal(await page.getAttribute("#readme .markdown-body img", "src"), "/repos/demo/raw/main/img/logo.png");
    // The sparkline: inline SVG with this repo's two commits today.
    assert.match(await page.getAttribute("#about svg.sparkline", "aria-label"), /^2 commits in 60 days$/);
    // The repo tabs: Code (here) and Issues, one click away.
    const tabs = await page.$$eval(".tabs a", (as) => as.map((a) => [a.textContent, a.getAttribute("href")]));
    assert.deepEqual(tabs.find((t) => t[0] === "Code"), ["Code", "/repos/demo"]);
    assert.deepEqual(tabs.find((t) => t[0] === "Issues"), ["Issues", "/repos/demo/issues"]);
    assert.deepEqual(tabs.find((t) => t[0] === "CI"), ["CI", "/repos/demo/ci"]);
    assert.equal(await page.textContent(".tabs a.active"), "Code");
    await page.screenshot({ path: screenshotPath("repo-page"), fullPage: true });

    // The README's link to the guide, and the guide's link back, stay inside the repo.
    await Promise.all([page.waitForURL(/\/blob\/main\/docs\/guide\.md$/), page.click('#readme a:has-text("guide")')]);
    assert.equal(await page.textContent("#blob .markdown-body h1"), "The guide");
    await page.screenshot({ path: screenshotPath("repo-markdown-file"), fullPage: true });
    await Promise.all([page.waitForURL(/\/blob\/main\/README\.md$/), page.click('#blob .markdown-body a:has-text("readme")')]);

    // A directory, then a file in it with line numbers.
    await page.goto(trio.a.url("/repos/demo"));
    await Promise.all([page.waitForURL(/\/tree\/main\/src$/), page.click('#files a:has-text("src")')]);
    assert.equal(await page.textContent(".crumb-current"), "src");
    await page.screenshot({ path: screenshotPath("repo-tree"), fullPage: true });
    await Promise.all([page.waitForURL(/\/blob\/main\/src\/main\.c$/), page.click('#files a:has-text("main.c")')]);
    assert.ok((await page.textContent(".blob-text")).includes('puts("hi");'));
    assert.equal(await page.locator(".blob-lines a").count(), 6);
    assert.equal(await page.getAttribute(".blob-lines a#L4", "href"), "#L4");
    await page.screenshot({ path: screenshotPath("repo-file"), fullPage: true });
    const raw = await page.evaluate(async () => {
      const r = await fetch(document.querySelector('a.btn[href*="/raw/"]').getAttribute("href"));
      return { status: r.status, type: r.headers.get("content-type"), csp: r.headers.get("content-security-policy"), text: await r.text() };
    });
    assert.equal(raw.status, 200);
    assert.equal(raw.type, "text/plain; charset=utf-8");
    assert.match(raw.csp, /sandbox/);
    assert.ok(raw.text.includes('puts("hi");'));

    // A commit: message and diffstat; its parent is one click away.
    await page.goto(trio.a.url("/repos/demo"));
    await Promise.all([page.waitForURL(new RegExp(`/commit/${head}$`)), page.click('#commits a.commit-summary:has-text("Say hi")')]);
    assert.equal(await page.textContent("#commit h2.commit-summary"), "Say hi");
    assert.equal(await page.textContent(".commit-body"), "Prints a greeting.");
    assert.equal(await page.textContent("#diffstat h2"), "1 files changed");
    assert.equal(await page.textContent(".diff-path a"), "src/main.c");
    assert.equal(await page.textContent(".diff-totals"), "+1 −0");
    await page.screenshot({ path: screenshotPath("repo-commit"), fullPage: true });
    await Promise.all([page.waitForURL(/\/commit\/[0-9a-f]{40}$/), page.click("a.parent")]);
    assert.equal(await page.textContent("#commit h2.commit-summary"), "Initial import");
    assert.equal(await page.textContent("#diffstat h2"), "4 files changed");

    // Another branch (a slash in its name), the log, and the Issues tab.
    await page.goto(trio.a.url("/repos/demo"));
    await Promise.all([page.waitForURL(/\/tree\/feature%2Flogin$/), page.click('#branches a:has-text("feature/login")')]);
    assert.equal(await page.textContent(".current-ref"), "feature/login");
    await Promise.all([page.waitForURL(/\/commits\/feature%2Flogin$/), page.click('.browse-bar a:has-text("commits")')]);
    assert.equal(await page.locator("#commits li.commit").count(), 2);
    await page.screenshot({ path: screenshotPath("repo-commits"), fullPage: true });
    // The Issues tab leads to the issues plugin's board (its content is that plugin's test).
    const [board] = await Promise.all([
      page.waitForNavigation({ url: /\/repos\/demo\/issues$/ }),
      page.click('.tabs a:has-text("Issues")'),
    ]);
    assert.notEqual(board.status(), 404, "the issues plugin answers, not browse's fallback");
    // And the CI tab to the CI plugin's runs page, one click from the repo page.
    await page.goto(trio.a.url("/repos/demo"));
    const [ci] = await Promise.all([
      page.waitForNavigation({ url: /\/repos\/demo\/ci$/ }),
      page.click('.tabs a:has-text("CI")'),
    ]);
    assert.notEqual(ci.status(), 404, "the CI plugin answers, not browse's fallback");

    // Unknown pages below /repos are a 404 in the layout.
    const missing = await page.goto(trio.a.url("/repos/demo/nothing-here"));
    assert.equal(missing.status(), 404);
    assert.ok((await page.textContent("main")).includes("No such page"));
    const noRepo = await page.goto(trio.a.url("/repos/nope"));
    assert.equal(noRepo.status(), 404);
    assert.ok((await page.textContent("main")).includes("no repo named nope"));

    // The only failed loads are the pages this test asked for to fail.
    assert.deepEqual(failed.filter((f) => !/\/repos\/demo\/(issues|ci)$/.test(f)), [
      "404 /repos/demo/nothing-here",
      "404 /repos/nope",
    ]);
    problems.console = problems.console.filter((m) => !/status of (404|501)/.test(m));
    assertClean(problems, await cspViolations(page), "alice's pages");
    trio.passed = true;
  } finally {
    if (browser) await browser.close();
    await trio.close();
  }
});
