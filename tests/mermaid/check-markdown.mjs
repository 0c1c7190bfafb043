// Parse every ```mermaid block of markdown files with mermaid's own parser (the one GitHub runs).
// Usage: node check-markdown.mjs FILE.md [FILE.md ...]
// Exits 0 when every block parses; 1 with mermaid's message (file, block number, first line) otherwise;
// 2 on a usage error or a file without any mermaid block.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

// mermaid expects a browser: give it jsdom's window before it is imported.
const dom = new JSDOM("<!doctype html><html><body></body></html>", { pretendToBeVisual: true });
for (const name of ["window", "document", "DOMParser", "Element", "HTMLElement", "SVGElement", "Node"]) {
  if (!(name in globalThis)) {
    globalThis[name] = name === "window" ? dom.window : dom.window[name];
  }
}
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false, suppressErrorRendering: true, securityLevel: "strict" });

export function mermaidBlocks(markdown) {
  const blocks = [];
  const fence = /^```mermaid[ \t]*\n([\s\S]*?)^```[ \t]*$/gm;
  for (const match of markdown.matchAll(fence)) {
    const line = markdown.slice(0, match.index).split("\n").length;
    blocks.push({ line, text: match[1] });
  }
  return blocks;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node check-markdown.mjs FILE.md [FILE.md ...]");
  process.exit(2);
}
let failures = 0;
let empty = 0;
for (const file of files) {
  const blocks = mermaidBlocks(readFileSync(file, "utf8"));
  if (blocks.length === 0) {
    console.error(`${file}: no mermaid block`);
    empty += 1;
  }
  for (const [index, block] of blocks.entries()) {
    const where = `${file}:${block.line} block ${index + 1} (${block.text.split("\n")[0].trim()})`;
    try {
      const result = await mermaid.parse(block.text);
      console.log(`ok ${where}: ${result.diagramType}`);
    } catch (error) {
      failures += 1;
      console.error(`FAIL ${where}: ${error?.message ?? error}`);
    }
  }
}
process.exit(failures ? 1 : empty ? 2 : 0);
