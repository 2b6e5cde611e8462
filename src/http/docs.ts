/**
 * `GET /docs`: the OpenAPI document in Swagger UI, served by the broker
 * itself. The UI's files are read from the installed `swagger-ui-dist`
 * package (once, then kept in memory), so the page loads nothing from
 * another host; it renders `/openapi.json`.
 *
 * @module
 */
import { Hono } from "hono";
import { join } from "@std/path/join";
// The path helper alone: the package's main module loads the whole UI bundle (~35 MB resident).
import getAbsoluteFSPath from "swagger-ui-dist/absolute-path.js";
import type { AppEnv } from "./router.ts";

/** The UI files served under `/docs/`, with their content types. */
const ASSETS: Readonly<Record<string, string>> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
};

/** Starts the UI on `/openapi.json`; a file of its own so the page needs no inline script. */
const INIT_SCRIPT = `window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: true,
  });
});
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Escrow API</title>
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

/**
 * The docs router: the page at `/docs` and `/docs/`, its files under `/docs/`.
 *
 * @example
 * ```ts
 * import { docsRouter } from "./docs.ts";
 * const res = await docsRouter().request("/docs");
 * console.log(res.headers.get("content-type")); // "text/html; charset=UTF-8"
 * ```
 */
export function docsRouter(): Hono<AppEnv> {
  const cache = new Map<string, Promise<Uint8Array>>();
  const read = (name: string): Promise<Uint8Array> => {
    let file = cache.get(name);
    if (!file) {
      file = Deno.readFile(join(getAbsoluteFSPath(), name));
      file.catch(() => cache.delete(name)); // a failed read is tried again next time
      cache.set(name, file);
    }
    return file;
  };
  const router = new Hono<AppEnv>();
  router.get("/docs", (c) => c.html(PAGE));
  router.get("/docs/", (c) => c.html(PAGE));
  // One route for every file, init.js included: a static path beside `/docs/:file` is more
  // than Hono's RegExpRouter takes, and the whole API would fall back to the slower TrieRouter.
  router.get("/docs/:file", async (c) => {
    const name = c.req.param("file");
    if (name === "init.js") {
      c.header("content-type", "text/javascript; charset=utf-8");
      return c.body(INIT_SCRIPT);
    }
    const type = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (type === undefined) return c.notFound();
    const bytes = await read(name);
    c.header("content-type", type);
    c.header("cache-control", "public, max-age=86400");
    return c.body(bytes as Uint8Array<ArrayBuffer>);
  });
  return router;
}
