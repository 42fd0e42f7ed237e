// Debian's headless Chromium driven by playwright-core (never `playwright install`), with the
// flags measured to work on this platform (../shared/PLATFORM.md), a fresh profile per run, and
// a watch on everything a page must never do: console errors, uncaught exceptions, dialogs
// (alert/confirm/prompt: an XSS payload that ran) and Content-Security-Policy violations.
import { createRequire } from "node:module";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

function loadPlaywright() {
  const require = createRequire(join(here, "..", "package.json"));
  try {
    return require("playwright-core");
  } catch (e) {
    throw new Error(
      "playwright-core is not installed for the browser tests. Install it with\n" +
        "    npm ci --prefix tests/browser\n" +
        "(it drives Debian's /usr/bin/chromium; never run `playwright install`). " +
        `Cause: ${e.message}`,
    );
  }
}

export const CHROMIUM = process.env.MESH_CHROMIUM || "/usr/bin/chromium";

export async function launch() {
  const { chromium } = loadPlaywright();
  const profile = mkdtempSync(join(tmpdir(), "mesh-chromium-"));
  // A persistent context is the way to hand Chromium a fresh --user-data-dir of our own.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--headless",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// A page with its misbehaviour recorded in `problems` (dialogs are dismissed and recorded).
export async function watchedPage(context) {
  const page = await context.newPage();
  const problems = { console: [], errors: [], dialogs: [], loads: 0 };
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") problems.console.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.errors.push(String(e)));
  page.on("dialog", async (d) => {
    problems.dialogs.push(`${d.type()}: ${d.message()}`);
    await d.dismiss().catch(() => {});
  });
  page.on("load", () => problems.loads++);
  // Runs before any page script (CDP, not subject to the page's CSP): collects violations.
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  return { page, problems };
}

export async function cspViolations(page) {
  return page.evaluate(() => window.__cspViolations || []);
}

export function screenshotPath(name) {
  const dir = process.env.MESH_BROWSER_OUT || join(here, "..", "screenshots");
  mkdirSync(dir, { recursive: true });
  return join(dir, `${name}.png`);
}
