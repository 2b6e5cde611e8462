/**
 * The tokens of the environment, read once at start-up: `ESCROW_TOKENS`
 * (a JSON array), the file `ESCROW_TOKENS_FILE` names (the same shape, where
 * `tokenSha256` may stand for `token`, so the file need not hold a secret)
 * and `ESCROW_API_TOKEN` (one admin token). All of them count; a wrong
 * entry, or a name or token given twice across them, stops the start-up.
 *
 * @module
 */
import { API_TOKEN_NAME, parseTokens, TOKEN_PATTERN, TokenSet } from "./token_set.ts";

/** Options of {@linkcode readTokens}. */
export interface ReadTokensOptions {
  /** Reads `ESCROW_TOKENS_FILE`. @default {Deno.readTextFileSync} */
  readonly readTextFile?: (path: string) => string;
}

/**
 * The tokens `env` configures; an empty set when none is.
 *
 * @param env The environment (`ESCROW_TOKENS`, `ESCROW_TOKENS_FILE`, `ESCROW_API_TOKEN`).
 * @throws {RangeError} Naming the variable and the entry that is wrong.
 *
 * @example
 * ```ts
 * import { readTokens } from "./token_config.ts";
 * const tokens = readTokens({
 *   ESCROW_TOKENS: '[{ "name": "wallet", "token": "w-secret", "permissions": ["publish:Trade"] }]',
 * });
 * console.log(tokens.names); // ["wallet"]
 * ```
 */
export function readTokens(
  env: Readonly<Record<string, string | undefined>>,
  options: ReadTokensOptions = {},
): TokenSet {
  let tokens = new TokenSet();
  const add = (more: TokenSet, source: string) => {
    try {
      tokens = tokens.with(more);
    } catch (error) {
      throw new RangeError(`Cannot read ${source}: ${(error as Error).message}`);
    }
  };
  if (env.ESCROW_TOKENS) {
    tokens = new TokenSet(parseTokens(env.ESCROW_TOKENS, "ESCROW_TOKENS"));
  }
  const file = env.ESCROW_TOKENS_FILE;
  if (file) {
    let text: string;
    try {
      text = (options.readTextFile ?? Deno.readTextFileSync)(file);
    } catch (error) {
      throw new RangeError(
        `Cannot read ESCROW_TOKENS_FILE: current value is ${file} (${(error as Error).message})`,
      );
    }
    add(new TokenSet(parseTokens(text, `ESCROW_TOKENS_FILE (${file})`)), "ESCROW_TOKENS_FILE");
  }
  const apiToken = env.ESCROW_API_TOKEN;
  if (apiToken) {
    if (!TOKEN_PATTERN.test(apiToken)) {
      throw new RangeError(
        `Cannot read ESCROW_API_TOKEN: must match ${TOKEN_PATTERN.source} (what a bearer header can carry)`,
      );
    }
    add(TokenSet.admin(apiToken, API_TOKEN_NAME), "ESCROW_API_TOKEN");
  }
  return tokens;
}
