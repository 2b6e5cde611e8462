/**
 * The `/inspect` page: the Stately inspector (a hosted UI, in an iframe)
 * fed with the broker's `/inspect/ws` stream. The inspector says it is ready
 * by posting `{ type: "@statelyai.connected" }` to its parent; from then on
 * the page posts each inspection message into the iframe, first those that
 * arrived before (the inspector's own browser adapter does the same, and
 * again whenever the inspector reconnects). The page's script is served by
 * the broker; the only other host the browser talks to is the inspector's.
 *
 * @module
 */

/** Most messages the page keeps to hand to an inspector that (re)connects. */
const KEPT_MESSAGES = 10_000;

/**
 * The page's script: connects the WebSocket named by its own
 * `data-socket`, and relays to the iframe `#inspector`.
 */
export const INSPECT_SCRIPT = `// Escrow: relays /inspect/ws to the Stately inspector in #inspector.
(() => {
  const script = document.currentScript;
  const iframe = document.getElementById("inspector");
  const status = document.getElementById("status");
  const kept = [];
  let target = null; // the inspector's origin, once it said it is connected
  const show = (text) => { status.textContent = text; };
  const post = (message) => iframe.contentWindow.postMessage(message, target);
  window.addEventListener("message", (event) => {
    if (event.source !== iframe.contentWindow) return;
    if (!event.data || event.data.type !== "@statelyai.connected") return;
    target = event.origin;
    kept.forEach(post);
  });
  const url = new URL(script.dataset.socket, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(url);
  let count = 0;
  socket.onopen = () => show("connected to the broker");
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    kept.push(message);
    if (kept.length > ${KEPT_MESSAGES}) kept.shift();
    count++;
    show("connected to the broker: " + count + " messages");
    if (target !== null) post(message);
  };
  socket.onclose = (event) =>
    show("disconnected from the broker" + (event.reason ? ": " + event.reason : "") + "; reload to reconnect");
})();
`;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** What the page shows. */
export interface InspectPageOptions {
  /** The Stately inspector UI to open in the iframe. */
  readonly inspectorUrl: string;
  /** The WebSocket path with its query (`/inspect/ws?transaction=...`). */
  readonly socketPath: string;
  /** What is watched, for the title. */
  readonly watching: string;
}

/**
 * The page's HTML.
 *
 * @example
 * ```ts
 * import { inspectPage } from "./inspect_page.ts";
 * const html = inspectPage({
 *   inspectorUrl: "https://stately.ai/inspect",
 *   socketPath: "/inspect/ws",
 *   watching: "every machine",
 * });
 * ```
 */
export function inspectPage(options: InspectPageOptions): string {
  const { inspectorUrl, socketPath, watching } = options;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Escrow · ${escapeHtml(watching)} in the Stately inspector</title>
<style>
  html, body { margin: 0; height: 100%; font: 13px/1.4 system-ui, sans-serif; }
  body { display: flex; flex-direction: column; }
  header { padding: 4px 10px; background: #1f2430; color: #e6e6e6; display: flex; gap: 12px; }
  header b { color: #fff; }
  #status { margin-left: auto; color: #9fb3c8; }
  iframe { flex: 1; border: 0; width: 100%; }
</style>
</head>
<body>
<header><b>Escrow</b><span>${
    escapeHtml(watching)
  }</span><span id="status">connecting…</span></header>
<iframe id="inspector" title="Stately inspector" src="${escapeHtml(inspectorUrl)}"></iframe>
<script src="/inspect/client.js" data-socket="${escapeHtml(socketPath)}"></script>
</body>
</html>
`;
}
