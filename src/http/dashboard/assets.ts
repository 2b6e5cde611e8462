/**
 * The dashboard's stylesheet, script and icon, served by the broker itself
 * from files next to this module (no build step, nothing from another host).
 *
 * @module
 */

/** Where the page loads its assets from. */
export const ASSET_PATHS = {
  css: "/dashboard/assets/app.css",
  js: "/dashboard/assets/app.js",
  icon: "/dashboard/assets/icon.svg",
} as const;

/** An asset's file and content type. */
export interface Asset {
  readonly file: string;
  readonly type: string;
}

/** Asset file names by their name in the URL. */
export const ASSETS: Readonly<Record<string, Asset>> = {
  "app.css": { file: "app.css", type: "text/css; charset=utf-8" },
  "app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "icon.svg": { file: "icon.svg", type: "image/svg+xml" },
};

const cache = new Map<string, Promise<Uint8Array<ArrayBuffer>>>();

/**
 * The bytes of an asset, read once.
 *
 * @example
 * ```ts
 * import { readAsset } from "./assets.ts";
 * const css = await readAsset("app.css");
 * ```
 */
export function readAsset(file: string): Promise<Uint8Array<ArrayBuffer>> {
  let bytes = cache.get(file);
  if (!bytes) {
    bytes = Deno.readFile(new URL(`./static/${file}`, import.meta.url));
    bytes.catch(() => cache.delete(file));
    cache.set(file, bytes);
  }
  return bytes;
}
