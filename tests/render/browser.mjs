// Debian's headless Chromium driven by playwright-core, with a fresh profile and no way out to the network:
// every request that is not a local file or the loopback host is aborted and recorded for its page.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

// GitHub's content width; the height only sets the first screen, pages are measured and shot in full.
const VIEWPORT = { width: 1012, height: 800 };

const FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  // Walls behind the request guard below: no host name resolves but the loopback's, and whatever the
  // guard missed (an IP literal too) goes to a proxy on a closed loopback port instead of out.
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
  "--proxy-server=http://127.0.0.1:9",
];
const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

function isLocal(url) {
  const { protocol, hostname } = new URL(url);
  if (["file:", "data:", "blob:", "about:"].includes(protocol)) {
    return true;
  }
  return LOCAL_HOSTS.has(hostname);
}

function guardSocket(socket) {
  return isLocal(socket.url()) ? socket.connectToServer() : socket.close();
}

/** A browser context of a fresh profile; close() also removes the profile. */
export async function launch(executablePath) {
  const profile = mkdtempSync(join(tmpdir(), "orstats-render-profile-"));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath, headless: true, args: FLAGS, viewport: VIEWPORT, deviceScaleFactor: 1,
      serviceWorkers: "block", acceptDownloads: false,
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  await context.route("**/*", (route) => (isLocal(route.request().url()) ? route.continue() : route.abort()));
  await context.routeWebSocket(/.*/, guardSocket);
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

/** The URLs a page asks for beyond file:// and the loopback host, in order, once each (all are aborted). */
export async function watchNetwork(page) {
  const attempts = [];
  const record = (url) => {
    if (!isLocal(url) && !attempts.includes(url)) {
      attempts.push(url);
    }
  };
  page.on("request", (request) => record(request.url()));
  // The page's own socket route, to know which page opened it; it takes precedence over the context's.
  await page.routeWebSocket(/.*/, (socket) => {
    record(socket.url());
    return guardSocket(socket);
  });
  return attempts;
}
