import { pino, type Logger } from "pino";

/**
 * Operational logs (not the audit log). Anything that looks like a credential is
 * censored by key name before it is serialised, wherever it sits in the object.
 */
export const REDACTED_KEYS = ["token", "secret", "password", "authorization", "cookie", "skey", "apiKey", "masterKey"];

/**
 * `scrub`, when given, sees every serialised line: the vault's scrubber replaces any stored
 * secret, in any encoding, wherever it appears — values, messages, keys.
 */
export function createLogger(options: { level?: string; scrub?: (line: string) => string; stream?: { write(line: string): void } } = {}): Logger {
  const paths = REDACTED_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `headers.${k}`]);
  const dest = options.stream ?? pino.destination({ dest: 2, sync: true });
  const scrub = options.scrub;
  return pino(
    {
      level: options.level ?? process.env.SKILLGATE_LOG_LEVEL ?? "info",
      base: { app: "skillgate" },
      redact: { paths, censor: "[REDACTED]" },
    },
    scrub ? { write: (line: string) => void dest.write(scrub(line)) } : dest,
  );
}
