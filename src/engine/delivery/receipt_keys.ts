/**
 * The secrets receipt handles are signed with. They live in KV, not in
 * memory or configuration, so that every broker instance on one database
 * signs and verifies alike: the first instance to start creates the secret
 * (a checked write, so two starting at once agree on one), the others read
 * it. Rotation makes a new current secret and keeps the previous one valid
 * for one visibility period (the longest a handle it signed can live); an
 * instance that meets a key id it does not know reads the secrets again.
 *
 * @module
 */
import {
  type HandleKey,
  type HandleReading,
  readReceiptHandle,
  type ReceiptHandle,
  signReceiptHandle,
} from "../../domain/receipt_handle.ts";
import { commit } from "../../store/commit.ts";
import { keys } from "../../store/keys.ts";

/** Longest visibility timeout a handle can carry (12 h): how long a retired secret stays valid. */
export const MAX_VISIBILITY_MS = 43_200 * 1000;
/** How often an instance re-reads the secrets, to follow a rotation made by another one. */
const REFRESH_MS = 30_000;
/** Least time between two re-reads caused by unknown key ids (forged handles cost no reads). */
const UNKNOWN_KEY_REREAD_MS = 1_000;

/** The secrets as stored under `["receipt_keys"]`. */
export interface StoredReceiptKeys {
  readonly current: HandleKey & { readonly createdAt: number };
  readonly previous?: HandleKey & { readonly retiredAt: number };
}

function newKey(): HandleKey {
  const id = [...crypto.getRandomValues(new Uint8Array(4))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  return { id, secret: crypto.getRandomValues(new Uint8Array(32)) };
}

/**
 * Signs and verifies receipt handles with the secrets stored in KV.
 *
 * @example
 * ```ts
 * import { ReceiptKeys } from "./receipt_keys.ts";
 * using kv = await Deno.openKv(":memory:");
 * const receiptKeys = new ReceiptKeys(kv, Date.now);
 * const text = await receiptKeys.sign({ group: "ops", groupId: "g1", messageId: "m1",
 *   topic: "T", seq: 1, attempt: 1, visibleUntil: Date.now() + 30_000 });
 * (await receiptKeys.read(text)).ok; // true
 * ```
 */
export class ReceiptKeys {
  readonly #kv: Deno.Kv;
  readonly #clock: () => number;
  #stored: StoredReceiptKeys | undefined;
  #loadedAt = 0;
  #lastUnknownReread = -Infinity;
  #loading: Promise<StoredReceiptKeys> | undefined;

  /** Creates the signer over `kv`; the secrets are read (or created) on first use. */
  constructor(kv: Deno.Kv, clock: () => number) {
    this.#kv = kv;
    this.#clock = clock;
  }

  /** Signs `handle` with the current secret. */
  async sign(handle: ReceiptHandle): Promise<string> {
    return signReceiptHandle((await this.#keys()).current, handle);
  }

  /** Signs many handles with the current secret (one read of the secrets at most). */
  async signAll(handles: readonly ReceiptHandle[]): Promise<string[]> {
    const { current } = await this.#keys();
    return handles.map((handle) => signReceiptHandle(current, handle));
  }

  /** Reads and verifies a handle text; an unknown key id makes it re-read the secrets once. */
  async read(text: string): Promise<HandleReading> {
    let stored = await this.#keys();
    const reading = readReceiptHandle(text, (id) => this.#valid(stored, id));
    if (reading.ok || reading.reason !== "unknown key") return reading;
    const now = this.#clock();
    if (now - this.#lastUnknownReread < UNKNOWN_KEY_REREAD_MS) return reading;
    this.#lastUnknownReread = now;
    stored = await this.#load();
    return readReceiptHandle(text, (id) => this.#valid(stored, id));
  }

  /**
   * Makes a new current secret; the old one keeps verifying handles for
   * {@linkcode MAX_VISIBILITY_MS}, and the one before it stops.
   */
  async rotate(): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const entry = await this.#kv.get<StoredReceiptKeys>(keys.receiptKeys());
      const now = this.#clock();
      const next: StoredReceiptKeys = {
        current: { ...newKey(), createdAt: now },
        ...(entry.value ? { previous: { ...entry.value.current, retiredAt: now } } : {}),
      };
      const result = await commit(
        this.#kv.atomic().check(entry).set(keys.receiptKeys(), next),
      );
      if (result.ok) {
        this.#remember(next);
        return;
      }
    }
    throw new Error("Cannot rotate receipt keys: the entry keeps changing");
  }

  #valid(stored: StoredReceiptKeys, id: string): HandleKey | undefined {
    if (stored.current.id === id) return stored.current;
    const previous = stored.previous;
    if (previous?.id === id && this.#clock() < previous.retiredAt + MAX_VISIBILITY_MS) {
      return previous;
    }
    return undefined;
  }

  async #keys(): Promise<StoredReceiptKeys> {
    if (this.#stored && this.#clock() - this.#loadedAt < REFRESH_MS) return this.#stored;
    return await this.#load();
  }

  #load(): Promise<StoredReceiptKeys> {
    this.#loading ??= this.#readOrCreate().finally(() => this.#loading = undefined);
    return this.#loading;
  }

  async #readOrCreate(): Promise<StoredReceiptKeys> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const entry = await this.#kv.get<StoredReceiptKeys>(keys.receiptKeys());
      if (entry.value) return this.#remember(entry.value);
      const created: StoredReceiptKeys = { current: { ...newKey(), createdAt: this.#clock() } };
      // Checked: of two instances starting at once, one creates and the other reads its secret.
      const result = await commit(
        this.#kv.atomic().check(entry).set(keys.receiptKeys(), created),
      );
      if (result.ok) return this.#remember(created);
    }
    throw new Error("Cannot read receipt keys: the entry keeps changing");
  }

  #remember(stored: StoredReceiptKeys): StoredReceiptKeys {
    this.#stored = stored;
    this.#loadedAt = this.#clock();
    return stored;
  }
}
