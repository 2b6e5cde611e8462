import { assertEquals, assertStrictEquals } from "@std/assert";
import { Counter, Gauge, Histogram, Registry } from "../../src/observe/prom.ts";

Deno.test("prom.ts hands out prom-client's own classes, read from their files", async () => {
  const index = await import("prom-client");
  assertStrictEquals(Counter, index.Counter);
  assertStrictEquals(Gauge, index.Gauge);
  assertStrictEquals(Histogram, index.Histogram);
  assertStrictEquals(Registry, index.Registry);
});

Deno.test("no module of the broker loads prom-client's index (Node's cluster and fs, 2 MB of heap)", async () => {
  const loading: string[] = [];
  const check = async (url: URL): Promise<void> => {
    const info = await Deno.stat(url);
    if (info.isDirectory) {
      for await (const entry of Deno.readDir(url)) {
        await check(new URL(entry.isDirectory ? `${entry.name}/` : entry.name, url));
      }
      return;
    }
    if (!/\.tsx?$/.test(url.pathname)) return;
    const text = await Deno.readTextFile(url);
    // Any import of the bare package that is not type-only runs its index.
    if (/import\s+(?!type\b)[^;]*from\s+["']prom-client["']/.test(text)) loading.push(url.pathname);
  };
  await check(new URL("../../src/", import.meta.url));
  await check(new URL("../../main.ts", import.meta.url));
  assertEquals(loading, []);
});
