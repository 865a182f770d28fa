import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, it } from "node:test";
import fc from "fast-check";
import { canonicalJson, decodeEntry } from "../../audit/index.js";
import { type AuditEntry, canonicalEntryText, encodeEntry } from "../../audit/entry.js";

const canonicalize = createRequire(import.meta.url)("canonicalize") as (v: unknown) => string;

const jsonData = fc.dictionary(
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.oneof(fc.string({ unit: "grapheme" }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null)),
  { maxKeys: 6, noNullPrototype: true },
);

const entry: fc.Arbitrary<AuditEntry> = fc.record({
  v: fc.constant(1 as const),
  seq: fc.nat(),
  ts: fc.date({ min: new Date(0), max: new Date("2100-01-01"), noInvalidDate: true }).map((d) => d.toISOString()),
  session: fc.option(fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }), { nil: null }),
  actor: fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }),
  kind: fc.constantFrom("saw", "decided", "touched", "system"),
  type: fc.stringMatching(/^[a-z][a-z0-9_.-]{0,20}$/),
  data: jsonData,
  blobs: fc.array(
    fc.record({ sha256: fc.stringMatching(/^[0-9a-f]{64}$/), size: fc.nat(), type: fc.constantFrom("text/plain", "application/json") }, { noNullPrototype: true }),
    { maxLength: 3 },
  ),
  prev: fc.stringMatching(/^[0-9a-f]{64}$/),
}, { noNullPrototype: true });

describe("audit entry encoding", () => {
  it("the fast envelope encoder produces exactly the RFC 8785 library output", () => {
    fc.assert(
      fc.property(entry, (e) => {
        assert.equal(canonicalEntryText(e), canonicalize(e));
        // Decoding gives back the canonical value (e.g. -0 becomes 0), not necessarily the input.
        assert.deepEqual(decodeEntry(encodeEntry(e)), JSON.parse(canonicalize(e)));
      }),
      { numRuns: 500 },
    );
  });

  it("refuses what RFC 8785 cannot represent faithfully", () => {
    assert.throws(() => canonicalJson({ x: Number.NaN }), { code: "AUDIT_NOT_JSON" });
    assert.throws(() => canonicalJson({ x: Number.POSITIVE_INFINITY }), { code: "AUDIT_NOT_JSON" });
    assert.throws(() => canonicalJson({ x: "\uD800" }), { code: "AUDIT_NOT_JSON" });
    assert.throws(() => canonicalJson({ "\uDC00": 1 }), { code: "AUDIT_NOT_JSON" });
    assert.throws(() => canonicalJson({ when: new Date(0) }), { code: "AUDIT_NOT_JSON" });
    assert.throws(() => canonicalJson({ x: undefined }), { code: "AUDIT_NOT_JSON" });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => canonicalJson(cyclic), { code: "AUDIT_NOT_JSON" });
    assert.equal(canonicalJson({ b: [1, "\u20ac", 1e21, -0], a: { d: 1, c: 2 } }), '{"a":{"c":2,"d":1},"b":[1,"€",1e+21,0]}');
  });

  it("refuses stored bytes that are valid JSON but not canonical", () => {
    const e: AuditEntry = {
      v: 1,
      seq: 3,
      ts: "2026-01-01T00:00:00.000Z",
      session: null,
      actor: "a",
      kind: "saw",
      type: "t",
      data: { x: 1 },
      blobs: [],
      prev: "0".repeat(64),
    };
    const good = encodeEntry(e);
    assert.deepEqual(decodeEntry(good), e);
    const spaced = Buffer.from(good.toString().replace('"x":1', '"x": 1'));
    assert.throws(() => decodeEntry(spaced), { code: "AUDIT_NOT_JSON" });
    const reordered = Buffer.from(JSON.stringify({ ...e, actor: "a" }));
    assert.throws(() => decodeEntry(reordered), { code: "AUDIT_NOT_JSON" });
    assert.throws(() => encodeEntry({ ...e, data: { big: "x".repeat(30_000) } }), { code: "AUDIT_INVALID_ENTRY" });
    assert.throws(() => encodeEntry({ ...e, actor: "bad\uD800" }), { code: "AUDIT_INVALID_ENTRY" });
  });
});
