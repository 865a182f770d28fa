/** Below this length a "secret" would match ordinary text; the vault refuses none, but we do not scrub them. */
const MIN_SCRUB_LENGTH = 4;

/**
 * The base64 text that encodes `bytes` wherever they sit in a longer input: for each of
 * the three alignments, only the characters fully determined by these bytes.
 */
function base64Variants(bytes: Buffer, url: boolean): string[] {
  const out: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString(url ? "base64url" : "base64");
    const start = Math.ceil((offset * 8) / 6);
    const end = Math.floor(((offset + bytes.length) * 8) / 6);
    if (end - start >= MIN_SCRUB_LENGTH) out.push(encoded.slice(start, end));
  }
  return out;
}

/** Percent-encodings as different encoders write them: upper or lower hex, form (`+`), and strict RFC 3986. */
function urlEncodings(value: string): string[] {
  const plain = encodeURIComponent(value);
  const strict = plain.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const form = new URLSearchParams({ v: value }).toString().slice(2);
  const lowerHex = (s: string) => s.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
  return [plain, strict, form, lowerHex(plain), lowerHex(strict), lowerHex(form), plain.replace(/%20/g, "+")];
}

/** Every form a secret could take on its way out: raw, base64, base64url, hex and URL-encoded. */
export function encodings(value: string): string[] {
  const bytes = Buffer.from(value, "utf8");
  const hex = bytes.toString("hex");
  const forms = new Set<string>([
    value,
    ...base64Variants(bytes, false),
    ...base64Variants(bytes, true),
    hex,
    hex.toUpperCase(),
    ...urlEncodings(value),
    JSON.stringify(value).slice(1, -1),
  ]);
  return [...forms].filter((f) => f.length >= MIN_SCRUB_LENGTH);
}

/**
 * Replaces every known secret, in any of its encodings, with `[REDACTED cred:<ref>]`.
 * It stands between the broker and everything downstream: what goes back to a skill, to
 * the model, into a log line or an audit entry.
 */
export class Scrubber {
  private forms: { form: string; ref: string }[] = [];
  private pattern: RegExp | undefined;

  update(secrets: { ref: string; value: string }[]): void {
    const forms: { form: string; ref: string }[] = [];
    for (const s of secrets) for (const form of encodings(s.value)) forms.push({ form, ref: s.ref });
    // Longest first, so a longer encoding is replaced whole rather than around a shorter one.
    forms.sort((a, b) => b.form.length - a.form.length);
    this.forms = forms;
    this.pattern = forms.length ? new RegExp(forms.map((f) => f.form.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g") : undefined;
  }

  scrub(text: string): string {
    if (!this.pattern) return text;
    return text.replace(this.pattern, (match) => `[REDACTED cred:${this.forms.find((f) => f.form === match)?.ref ?? "?"}]`);
  }

  /** Scrubs every string in a JSON value. */
  scrubJson<T>(value: T): T {
    if (!this.pattern) return value;
    if (typeof value === "string") return this.scrub(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.scrubJson(v)) as T;
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [this.scrub(k), this.scrubJson(v)])) as T;
    }
    return value;
  }

  /** True when the text holds a known secret in any encoding. */
  holdsSecret(text: string): boolean {
    if (!this.pattern) return false;
    this.pattern.lastIndex = 0;
    const found = this.pattern.test(text);
    this.pattern.lastIndex = 0;
    return found;
  }
}
