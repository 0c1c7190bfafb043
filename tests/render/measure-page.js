// Runs inside the page that html-page.mjs writes, after the page's mermaid build: renders every mermaid
// block in place (an error stays as the error graphic GitHub would show) and measures what a reader sees.
// window.reportRendered resolves to the page's measures; the page also works opened by hand in a browser.
"use strict";

const AXES = ["bottom", "left", "top", "right"];
// Two label boxes overlap when they share more than this many px along every separating direction:
// glyph boxes that merely touch are not a smear a reader sees.
const OVERLAP_TOLERANCE_PX = 0.5;
// A text box reaches above its tallest glyph: a label whose box leaves the diagram by less is still whole.
const OUTSIDE_TOLERANCE_PX = 2;

mermaid.initialize({ startOnLoad: false, theme: "default", securityLevel: "strict" });

function diagramType(source) {
  try {
    return mermaid.detectType(source);
  } catch {
    return null;
  }
}

// The four corners, in page px, of an SVG element's own box carried through every transform (a label
// rotated by 45 degrees is a rotated rectangle, not its much larger upright bounding box).
function corners(element) {
  const box = element.getBBox();
  const matrix = element.getScreenCTM();
  return [[box.x, box.y], [box.x + box.width, box.y], [box.x + box.width, box.y + box.height],
    [box.x, box.y + box.height]].map(([x, y]) => {
    const point = new DOMPoint(x, y).matrixTransform(matrix);
    return [point.x + window.scrollX, point.y + window.scrollY];
  });
}

function pageBox(element) {
  const rect = element.getBoundingClientRect();
  return { x: rect.x + window.scrollX, y: rect.y + window.scrollY, width: rect.width, height: rect.height };
}

function projection(quad, [nx, ny]) {
  const values = quad.map(([x, y]) => x * nx + y * ny);
  return [Math.min(...values), Math.max(...values)];
}

function edgeNormals(quad) {
  return quad.map(([x, y], i) => {
    const [nextX, nextY] = quad[(i + 1) % quad.length];
    const length = Math.hypot(nextX - x, nextY - y) || 1;
    return [(y - nextY) / length, (nextX - x) / length];
  });
}

// Separating-axis test of two convex quadrilaterals: they overlap unless some edge direction of either
// separates them (with the tolerance above).
function quadsOverlap(first, second) {
  return [...edgeNormals(first), ...edgeNormals(second)].every((normal) => {
    const [minA, maxA] = projection(first, normal);
    const [minB, maxB] = projection(second, normal);
    return Math.min(maxA, maxB) - Math.max(minA, minB) > OVERLAP_TOLERANCE_PX;
  });
}

function overlappingPairs(labels) {
  const pairs = [];
  for (let i = 0; i < labels.length; i += 1) {
    for (let j = i + 1; j < labels.length; j += 1) {
      if (quadsOverlap(labels[i].corners, labels[j].corners)) {
        pairs.push([i, j]);
      }
    }
  }
  return pairs;
}

function labelsOf(texts) {
  const labels = texts.map((text) => ({ text: text.textContent, box: pageBox(text), corners: corners(text) }));
  return { labels, overlaps: overlappingPairs(labels) };
}

// Labels drawn (partly) outside the diagram's own box are cut off or spill over the page.
function outsideOf(svgBox, labels) {
  const [left, top] = [svgBox.x - OUTSIDE_TOLERANCE_PX, svgBox.y - OUTSIDE_TOLERANCE_PX];
  const right = svgBox.x + svgBox.width + OUTSIDE_TOLERANCE_PX;
  const bottom = svgBox.y + svgBox.height + OUTSIDE_TOLERANCE_PX;
  return labels.flatMap((label, index) => (label.corners.some(([x, y]) => x < left || y < top || x > right
    || y > bottom) ? [index] : []));
}

// xychart draws each axis as g.<side>-axis with its tick labels as the text elements of g.label.
function xychartAxes(svg) {
  const svgBox = pageBox(svg);
  const axes = {};
  for (const side of AXES) {
    const texts = [...svg.querySelectorAll(`g.${side}-axis > g.label > text`)];
    if (texts.length === 0) {
      continue;
    }
    const axis = labelsOf(texts);
    axes[side] = { ...axis, outside: outsideOf(svgBox, axis.labels) };
  }
  return axes;
}

// The x-axis is drawn at the bottom, or on the left of a horizontal chart.
function xAxisSide(source) {
  const horizontal = /^\s*xychart(-beta)?\s+horizontal\b/m.test(source)
    || mermaid.mermaidAPI.getConfig().xyChart?.chartOrientation === "horizontal";
  return horizontal ? "left" : "bottom";
}

function pieLegend(svg) {
  return [...svg.querySelectorAll("g.legend")].map((entry) => ({
    text: entry.querySelector("text")?.textContent ?? "",
    color: entry.querySelector("rect") ? getComputedStyle(entry.querySelector("rect")).fill : null,
  }));
}

// What the reader sees instead of the diagram, each sign on its own (a thrown error is one more).
function errorsShown(container) {
  const shown = [];
  if (container.querySelector('[aria-roledescription="error"]')) {
    shown.push("error diagram");
  }
  const marks = new Set([...container.querySelectorAll(".error-icon, .error-text")].map((node) => node.classList
    .contains("error-icon") ? "error-icon" : "error-text"));
  shown.push(...[...marks].map((mark) => `${mark} elements`));
  if (/Syntax error/i.test(container.textContent)) {
    shown.push("'Syntax error' text");
  }
  return shown;
}

async function renderBlock(container, index) {
  const source = container.querySelector(".mermaid-source").textContent;
  const block = { index: index + 1, line: Number(container.dataset.line), first_line: source.split("\n")[0].trim(),
    type: diagramType(source), error: null };
  const errors = [];
  try {
    const { svg, diagramType: rendered } = await mermaid.render(`mermaid-${index + 1}`, source, container);
    container.innerHTML = svg;
    block.type = rendered;
  } catch (error) {
    errors.push(`render threw: ${String(error?.message ?? error).replace(/\s+/g, " ")}`);
  }
  errors.push(...errorsShown(container));
  block.error = errors.length ? errors.join("; ") : null;
  const svg = container.querySelector("svg");
  block.box = svg ? pageBox(svg) : null;
  if (!block.error && svg && block.type === "xychart") {
    block.axes = xychartAxes(svg);
    block.x_axis = xAxisSide(source);
  }
  if (!block.error && svg && block.type === "pie") {
    block.legend = pieLegend(svg);
    block.slice_labels = labelsOf([...svg.querySelectorAll("text.slice")]);
  }
  return block;
}

function words(text) {
  return text.split(/\s+/).filter((word) => /[\p{L}\p{N}]/u.test(word)).length;
}

// Words a reader reads as prose: everything but tables, code and diagrams, by level-2 section.
function proseWords(article) {
  const copy = article.cloneNode(true);
  copy.querySelectorAll("table, pre, code, .mermaid-block, svg").forEach((node) => node.remove());
  const sections = [{ heading: "", words: 0 }];
  for (const node of copy.children) {
    if (node.tagName === "H2") {
      sections.push({ heading: node.textContent.trim(), words: 0 });
    }
    sections[sections.length - 1].words += words(node.textContent);
  }
  return { total: sections.reduce((sum, section) => sum + section.words, 0), sections };
}

window.reportRendered = (async () => {
  await document.fonts.ready;
  const blocks = [];
  for (const [index, container] of [...document.querySelectorAll(".mermaid-block")].entries()) {
    blocks.push(await renderBlock(container, index));
  }
  const prose = proseWords(document.querySelector("article"));
  return {
    height_px: document.documentElement.scrollHeight,
    width_px: document.documentElement.clientWidth,
    prose_words: prose.total,
    section_words: prose.sections,
    blocks,
  };
})();
