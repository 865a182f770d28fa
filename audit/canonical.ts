import { createRequire } from "node:module";
import { AuditError } from "./errors.js";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

// The package's typings declare an ES default export, but it is a CommonJS function
// export; requiring it gives the right value and a type we state ourselves.
const canonicalize = createRequire(import.meta.url)("canonicalize") as (input: unknown) => string | undefined;

const MAX_DEPTH = 32;
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * RFC 8785 needs I-JSON input. The `canonicalize` library does not enforce that:
 * it follows `toJSON`, drops `undefined`, escapes lone surrogates instead of refusing
 * them, and recurses into cycles. We refuse all of that up front so that what we hash
 * is exactly what any other JCS implementation would produce from the same bytes.
 */
export function assertJsonValue(value: unknown, path = "$", depth = 0): asserts value is JsonValue {
  if (depth > MAX_DEPTH) throw new AuditError("AUDIT_NOT_JSON", `${path}: nested deeper than ${MAX_DEPTH}`);
  if (value === null || typeof value === "boolean") return;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new AuditError("AUDIT_NOT_JSON", `${path}: number is not finite`);
    return;
  }
  if (typeof value === "string") {
    if (LONE_SURROGATE.test(value)) throw new AuditError("AUDIT_NOT_JSON", `${path}: string has a lone surrogate`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertJsonValue(item, `${path}[${i}]`, depth + 1));
    return;
  }
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new AuditError("AUDIT_NOT_JSON", `${path}: only plain objects are allowed`);
    }
    for (const [key, item] of Object.entries(value)) {
      if (LONE_SURROGATE.test(key)) throw new AuditError("AUDIT_NOT_JSON", `${path}: key has a lone surrogate`);
      assertJsonValue(item, `${path}.${key}`, depth + 1);
    }
    return;
  }
  throw new AuditError("AUDIT_NOT_JSON", `${path}: ${typeof value} is not JSON`);
}

/** RFC 8785 canonical JSON of any value; refuses what is not I-JSON. */
export function canonicalJson(value: unknown): string {
  assertJsonValue(value);
  return canonicalJsonOfChecked(value);
}

/** The same, for a value `assertJsonValue` has already accepted (saves a second walk). */
export function canonicalJsonOfChecked(value: JsonValue): string {
  const text = canonicalize(value);
  if (text === undefined) throw new AuditError("AUDIT_NOT_JSON", "value has no JSON form");
  return text;
}
