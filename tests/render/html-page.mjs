// A markdown page as GitHub shows it, written as one HTML file: markdown-it in a GFM-like configuration,
// github-markdown-css, and each ```mermaid fence left as a placeholder that measure-page.js renders in the
// browser with the mermaid build the page names. Every asset is a local file:// URL.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import MarkdownIt from "markdown-it";

const require = createRequire(import.meta.url);
const HERE = dirname(fileURLToPath(import.meta.url));
const MARKDOWN_CSS = pathToFileURL(require.resolve("github-markdown-css/github-markdown-light.css")).href;
const MEASURE_SCRIPT = pathToFileURL(resolve(HERE, "measure-page.js")).href;

// GitHub's file view: an article box of 1012 px with 32 px of padding, the light theme.
const PAGE_STYLE = `
body { margin: 0; background: #fff; }
.markdown-body { box-sizing: border-box; width: 100%; max-width: 1012px; padding: 32px; }
.mermaid-block { margin-bottom: 16px; text-align: center; }
.mermaid-source { display: none; }
`;

// GitHub's markdown: tables, strikethrough, bare URLs as links, and the raw HTML it lets through
// (<details>, <summary>, <br>); soft line breaks stay spaces as in a rendered .md file.
function githubMarkdown() {
  const markdown = new MarkdownIt({ html: true, linkify: true, typographer: false, breaks: false });
  const fence = markdown.renderer.rules.fence;
  markdown.renderer.rules.fence = (tokens, index, options, env, renderer) => {
    const token = tokens[index];
    if (token.info.trim().split(/\s+/)[0] !== "mermaid") {
      return fence(tokens, index, options, env, renderer);
    }
    const line = token.map[0] + 1;
    return `<div class="mermaid-block" data-line="${line}"><pre class="mermaid-source">`
      + `${markdown.utils.escapeHtml(token.content)}</pre></div>\n`;
  };
  return markdown;
}

// A relative image is the repository's file beside the page: point it at the markdown's own folder,
// since the HTML page is written elsewhere.
function imagesBesideTheMarkdown(markdown, folder) {
  markdown.core.ruler.push("images_beside_markdown", (state) => {
    for (const block of state.tokens) {
      for (const token of block.children ?? []) {
        const src = token.type === "image" ? token.attrGet("src") : null;
        if (src && !/^[a-z][a-z0-9+.-]*:|^\/\/|^#/i.test(src)) {
          token.attrSet("src", new URL(src, pathToFileURL(folder + "/")).href);
        }
      }
    }
  });
}

function escapeAttribute(text) {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}

/** The HTML page of one markdown file, rendering its mermaid blocks with the script at `mermaidScript`. */
export function htmlPage(markdownPath, mermaidScript, mermaidVersion) {
  const markdown = githubMarkdown();
  imagesBesideTheMarkdown(markdown, dirname(resolve(markdownPath)));
  const body = markdown.render(readFileSync(markdownPath, "utf8"));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>${escapeAttribute(markdownPath)} (mermaid ${escapeAttribute(mermaidVersion)})</title>
<link rel="stylesheet" href="${MARKDOWN_CSS}">
<style>${PAGE_STYLE}</style>
</head><body>
<article class="markdown-body">
${body}</article>
<script src="${pathToFileURL(mermaidScript).href}"></script>
<script src="${MEASURE_SCRIPT}"></script>
</body></html>
`;
}
