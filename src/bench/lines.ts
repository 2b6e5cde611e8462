/**
 * Reading a child's output line by line: split a byte stream on newlines and
 * hand each complete line to a callback, so a large JSON result that arrives
 * in many chunks is still seen whole.
 *
 * @module
 */

/**
 * Reads `stream` to its end, calling `onLine` with each line (without its
 * newline); a last unterminated line is passed too.
 *
 * @example
 * ```ts
 * import { forEachLine } from "./lines.ts";
 * const stream = ReadableStream.from([new TextEncoder().encode("a\nb")]);
 * const seen: string[] = [];
 * await forEachLine(stream, (line) => seen.push(line));
 * console.log(seen); // ["a", "b"]
 * ```
 */
export async function forEachLine(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let pending = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    pending += text;
    let newline = pending.indexOf("\n");
    while (newline !== -1) {
      onLine(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf("\n");
    }
  }
  if (pending !== "") onLine(pending);
}
