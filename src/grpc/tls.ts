/**
 * The gRPC port's certificate: the PEM files `ESCROW_GRPC_TLS_CERT` and
 * `ESCROW_GRPC_TLS_KEY` name, else a self-signed one for `localhost` and
 * `127.0.0.1`, made once and kept in the data directory (the Java, Go and
 * C# clients use TLS by default and accept any certificate).
 *
 * @module
 */
import { join } from "node:path";

/** A certificate and its private key, PEM. */
export interface TlsPair {
  readonly cert: string;
  readonly key: string;
}

/** Options of {@linkcode loadCertificate}. */
export interface LoadCertificateOptions {
  /** PEM certificate file (`ESCROW_GRPC_TLS_CERT`). @default {undefined} */
  readonly certFile?: string;
  /** PEM key file (`ESCROW_GRPC_TLS_KEY`). @default {undefined} */
  readonly keyFile?: string;
  /** Where a self-signed pair is kept. @default {"./data"} */
  readonly dataDir?: string;
}

/**
 * The configured pair, or the self-signed one of the data directory (made
 * now when missing).
 *
 * @example
 * ```ts
 * import { loadCertificate } from "./tls.ts";
 * const { cert } = await loadCertificate({ dataDir: await Deno.makeTempDir() });
 * console.log(cert.startsWith("-----BEGIN CERTIFICATE-----")); // true
 * ```
 */
export async function loadCertificate(options: LoadCertificateOptions = {}): Promise<TlsPair> {
  if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
    throw new RangeError(
      "Cannot read ESCROW_GRPC_TLS_CERT and ESCROW_GRPC_TLS_KEY: set both or neither",
    );
  }
  if (options.certFile !== undefined && options.keyFile !== undefined) {
    return {
      cert: await Deno.readTextFile(options.certFile),
      key: await Deno.readTextFile(options.keyFile),
    };
  }
  const dir = options.dataDir ?? "./data";
  const certPath = join(dir, "grpc-selfsigned.crt");
  const keyPath = join(dir, "grpc-selfsigned.key");
  try {
    return { cert: await Deno.readTextFile(certPath), key: await Deno.readTextFile(keyPath) };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  // Loaded only here: the certificate library is large, and most starts read the kept pair.
  const { generate } = await import("selfsigned");
  const made = await generate([{ name: "commonName", value: "localhost" }], {
    algorithm: "sha256",
    keySize: 2048,
    notAfterDate: new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000),
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [{ type: 2, value: "localhost" }, { type: 7, ip: "127.0.0.1" }],
      },
    ],
  });
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(keyPath, made.private, { mode: 0o600 });
  await Deno.writeTextFile(certPath, made.cert);
  return { cert: made.cert, key: made.private };
}
