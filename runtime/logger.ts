import { pino, type Logger } from "pino";

/**
 * Operational logs (not the audit log). Anything that looks like a credential is
 * censored by key name before it is serialised, wherever it sits in the object.
 */
export const REDACTED_KEYS = ["token", "secret", "password", "authorization", "cookie", "skey", "apiKey", "masterKey"];

export function createLogger(options: { level?: string } = {}): Logger {
  const paths = REDACTED_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `headers.${k}`]);
  return pino(
    {
      level: options.level ?? process.env.SKILLGATE_LOG_LEVEL ?? "info",
      base: { app: "skillgate" },
      redact: { paths, censor: "[REDACTED]" },
    },
    pino.destination({ dest: 2, sync: true }),
  );
}
