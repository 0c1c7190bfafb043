// Render markdown pages as GitHub does, at one or more mermaid versions, and measure every mermaid block.
// Usage: node render-markdown.mjs --out DIR --mermaid 11.12.2 [--mermaid 11.17.2] [--json FILE] FILE.md...
// Writes DIR/<page>.mermaid-<version>.html and .png (full page) per page and version, prints the measures
// as JSON (stdout, or --json FILE) and a line per finding on stderr. A finding is what a reader would see
// wrong: an error graphic, overlapping tick labels on any axis of a chart, a request beyond this machine,
// an error thrown in the page.
// Exits 0 when nothing was found, 1 when a block shows an error, labels overlap, or a page tried the
// network or threw; 2 on a usage error or when the browser could not render a page.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { launch, watchNetwork } from "./browser.mjs";
import { htmlPage } from "./html-page.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const RENDER_TIMEOUT_MS = 120_000;

class UsageError extends Error {}

// Installed mermaid builds by version: "mermaid" itself or npm aliases such as "mermaid-11-12".
function mermaidBuilds() {
  const modules = join(HERE, "node_modules");
  const builds = new Map();
  if (!existsSync(modules)) {
    throw new UsageError(`${modules} is missing: run npm ci in ${HERE}`);
  }
  for (const name of readdirSync(modules).filter((entry) => /^mermaid(-.+)?$/.test(entry))) {
    const { version } = JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8"));
    builds.set(version, join(modules, name, "dist", "mermaid.min.js"));
  }
  return builds;
}

function options() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      out: { type: "string" },
      mermaid: { type: "string", multiple: true },
      json: { type: "string" },
      chromium: { type: "string", default: process.env.CHROMIUM ?? "/usr/bin/chromium" },
    },
  });
  if (!values.out || !values.mermaid?.length || positionals.length === 0) {
    throw new UsageError("usage: node render-markdown.mjs --out DIR --mermaid VERSION [--mermaid VERSION] "
      + "[--json FILE] [--chromium PATH] FILE.md [FILE.md ...]");
  }
  const builds = mermaidBuilds();
  const missing = values.mermaid.filter((version) => !builds.has(version));
  if (missing.length) {
    throw new UsageError(`mermaid ${missing.join(", ")} not installed in ${HERE}/node_modules `
      + `(installed: ${[...builds.keys()].join(", ") || "none"}; add an npm alias to package.json)`);
  }
  return { ...values, files: positionals.map((file) => resolve(file)), builds };
}

// One output name per page: its file name, or folder-name when two pages share a file name.
function pageNames(files) {
  const stems = files.map((file) => basename(file, extname(file)));
  return files.map((file, index) => (stems.indexOf(stems[index]) === stems.lastIndexOf(stems[index])
    ? stems[index] : `${basename(dirname(file))}-${stems[index]}`));
}

async function renderPage(context, file, name, version, script, out) {
  const html = join(out, `${name}.mermaid-${version}.html`);
  const screenshot = join(out, `${name}.mermaid-${version}.png`);
  writeFileSync(html, htmlPage(file, script, version));
  const page = await context.newPage();
  page.setDefaultTimeout(RENDER_TIMEOUT_MS);
  const networkAttempts = await watchNetwork(page);
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(String(error?.message ?? error)));
  try {
    await page.goto(pathToFileURL(html).href, { waitUntil: "load" });
    const measures = await page.evaluate(() => window.reportRendered);
    await page.screenshot({ path: screenshot, fullPage: true });
    const rendered = { markdown: file, mermaid: version, html, screenshot, ...measures,
      network_attempts: networkAttempts, page_errors: pageErrors };
    const summary = `${file} @ mermaid ${version}: ${measures.height_px} px tall, ${measures.prose_words} words `
      + `of prose, ${measures.blocks.length} mermaid blocks; ${screenshot}`;
    return { ...rendered, summary, findings: findings(rendered) };
  } finally {
    await page.close();
  }
}

function findings(page) {
  const where = `${page.markdown} @ mermaid ${page.mermaid}`;
  const found = [];
  for (const block of page.blocks) {
    const at = `${where} line ${block.line} block ${block.index} (${block.first_line})`;
    if (block.error) {
      found.push(`${at}: ${block.error}`);
    }
    for (const [side, axis] of Object.entries(block.axes ?? {})) {
      if (axis.overlaps.length) {
        const [first, second] = axis.overlaps[0];
        found.push(`${at}: ${axis.overlaps.length} overlapping pairs of ${side} axis labels, first `
          + `"${axis.labels[first].text}" and "${axis.labels[second].text}"`);
      }
    }
  }
  found.push(...page.network_attempts.map((url) => `${where}: tried the network: ${url}`));
  found.push(...page.page_errors.map((message) => `${where}: page error: ${message}`));
  return found;
}

async function main() {
  const { out, mermaid: versions, json, chromium, files, builds } = options();
  mkdirSync(out, { recursive: true });
  const started = performance.now();
  const browser = await launch(chromium);
  const pages = [];
  try {
    const names = pageNames(files);
    for (const [index, file] of files.entries()) {
      for (const version of versions) {
        pages.push(await renderPage(browser.context, file, names[index], version, builds.get(version), resolve(out)));
      }
    }
  } finally {
    await browser.close();
  }
  const result = { elapsed_s: Number(((performance.now() - started) / 1000).toFixed(2)), pages };
  const text = JSON.stringify(result, null, 1);
  if (json) {
    writeFileSync(json, text);
  } else {
    process.stdout.write(text + "\n");
  }
  const found = pages.flatMap((page) => page.findings);
  pages.forEach((page) => console.error(page.summary));
  found.forEach((line) => console.error(`FOUND ${line}`));
  return found.length ? 1 : 0;
}

main().then((code) => process.exit(code), (error) => {
  console.error(error instanceof UsageError ? error.message : `render failed: ${error?.stack ?? error}`);
  process.exit(2);
});
