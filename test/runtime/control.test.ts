// The gateway's control plane, unit by unit: the secret vault and its master key, the
// scrubber that keeps secret values out of everything downstream, the egress address
// policy, the Cedar policy engine with the shipped defaults, and the approval book.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { AuditLog, canonicalJson, generateNoteKey } from "../../audit/index.js";
import { approvalHash, ApprovalBook, type ApprovalLimits, type ApprovalSubject, type PendingApproval } from "../../runtime/approvals/approval-book.js";
import { type AddressClass, classifyAddress } from "../../runtime/broker/address-policy.js";
import { bareHost, type ResolvedAddress, resolveAllowed, type Resolver } from "../../runtime/broker/pinned-dispatcher.js";
import { PolicyEngine, type PolicyRequest } from "../../runtime/policy/engine.js";
import { ensureMasterKeyFile, loadMasterKey, MASTER_KEY_ENV } from "../../runtime/secrets/master-key.js";
import { encodings, Scrubber } from "../../runtime/secrets/scrubber.js";
import { type SecretBinding, Vault } from "../../runtime/secrets/vault.js";
import { StateDb } from "../../runtime/state/state-db.js";
import { failure } from "../support/failure.js";
import { FRESH_CONTEXT } from "../../runtime/policy/context.js";

/** Any rejection at all (schema errors are zod's, not coded). */
async function rejection(pending: Promise<unknown>): Promise<Error> {
  try {
    await pending;
  } catch (err) {
    assert.ok(err instanceof Error, `expected an Error, got ${String(err)}`);
    return err;
  }
  assert.fail("the call was expected to fail");
}

/** True when `needle` occurs anywhere in the file's bytes (the file may be absent). */
function fileHolds(path: string, needle: string): boolean {
  return existsSync(path) && readFileSync(path).includes(Buffer.from(needle, "utf8"));
}

// ---------------------------------------------------------------------------------------

describe("vault and master key", () => {
  let dir: string;
  let n = 0;
  const BINDING: SecretBinding = { hosts: ["api.github.com"], skills: ["@demo/*"], methods: ["GET", "POST"], paths: ["/repos/"] };
  const newKey = () => randomBytes(32);
  const freshSecret = () => `ghp_${randomBytes(24).toString("base64url")}`;
  /** A new state.db path per test, so no test sees another's records. */
  const dbPath = () => join(dir, `state-${++n}.db`);

  async function withVault<T>(path: string, key: Buffer | undefined, body: (vault: Vault, state: StateDb) => Promise<T>): Promise<T> {
    const state = await StateDb.open(path);
    try {
      return await body(await Vault.open(state, key), state);
    } finally {
      await state.close();
    }
  }

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "skillgate-vault-"));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it("round-trips a value and reports its binding, version and ref", async () => {
    const key = newKey();
    const value = freshSecret();
    await withVault(dbPath(), key, async (vault) => {
      const info = await vault.set("github", value, BINDING, "2030-01-01T00:00:00.000Z");
      assert.deepEqual(info, { ref: "github", version: 1, binding: BINDING, createdAt: "2030-01-01T00:00:00.000Z", updatedAt: "2030-01-01T00:00:00.000Z" });
      assert.equal(await vault.reveal("github"), value);
      assert.deepEqual(await vault.binding("github"), info);
      assert.deepEqual(await vault.values(), [{ ref: "github", value }]);
      assert.equal(await vault.reveal("unknown"), undefined);
      assert.equal(await vault.binding("unknown"), undefined);
    });
  });

  it("persists across reopening with the same key", async () => {
    const key = newKey();
    const path = dbPath();
    const value = freshSecret();
    await withVault(path, key, (vault) => vault.set("github", value, BINDING));
    assert.equal(await withVault(path, Buffer.from(key), (vault) => vault.reveal("github")), value);
  });

  it("lists refs and bindings but never a value", async () => {
    const values = [freshSecret(), freshSecret()];
    await withVault(dbPath(), newKey(), async (vault) => {
      await vault.set("beta", values[1]!, BINDING);
      await vault.set("alpha", values[0]!, { hosts: ["*.example.com"], skills: ["@acme/tool"] });
      const list = await vault.list();
      assert.deepEqual(
        list.map((s) => s.ref),
        ["alpha", "beta"],
      );
      assert.deepEqual(list[0]!.binding, { hosts: ["*.example.com"], skills: ["@acme/tool"] });
      const text = JSON.stringify(list);
      for (const v of values) {
        assert.equal(text.includes(v), false, "a listed secret carried its value");
        for (const form of encodings(v)) assert.equal(text.includes(form), false, `the listing holds an encoding of a value: ${form}`);
      }
    });
  });

  it("refuses a different master key at open, without echoing any key material", async () => {
    const right = newKey();
    const wrong = newKey();
    const path = dbPath();
    const value = freshSecret();
    await withVault(path, right, (vault) => vault.set("github", value, BINDING));

    const state = await StateDb.open(path);
    try {
      const err = await failure(Vault.open(state, wrong));
      assert.equal(err.code, "VAULT_KEY_WRONG");
      for (const key of [right, wrong]) {
        for (const text of [key.toString("base64"), key.toString("base64url"), key.toString("hex"), key.toString("hex").toUpperCase()]) {
          assert.equal(err.message.includes(text), false, "the error carries key material");
        }
      }
      assert.equal(err.message.includes(value), false);
      assert.equal(err.message.includes("\n"), false);
    } finally {
      await state.close();
    }
    // The right key still opens it: the refusal changed nothing.
    assert.equal(await withVault(path, right, (vault) => vault.reveal("github")), value);
  });

  it("without a master key, stores and reveals nothing (VAULT_KEY_MISSING) but still lists bindings", async () => {
    const path = dbPath();
    const value = freshSecret();
    await withVault(path, newKey(), (vault) => vault.set("github", value, BINDING));
    await withVault(path, undefined, async (vault) => {
      assert.equal((await failure(vault.set("other", freshSecret(), BINDING))).code, "VAULT_KEY_MISSING");
      assert.equal((await failure(vault.reveal("github"))).code, "VAULT_KEY_MISSING");
      assert.equal((await failure(vault.rotate("github", freshSecret()))).code, "VAULT_KEY_MISSING");
      assert.equal((await failure(vault.values())).code, "VAULT_KEY_MISSING");
      assert.deepEqual(
        (await vault.list()).map((s) => [s.ref, s.version]),
        [["github", 1]],
      );
    });
    await withVault(dbPath(), undefined, async (vault) => {
      assert.equal((await failure(vault.set("github", value, BINDING))).code, "VAULT_KEY_MISSING");
      assert.deepEqual(await vault.list(), []);
    });
  });

  it("rotates: the version goes up, the binding stays, the old value is gone", async () => {
    const oldValue = freshSecret();
    const newValue = freshSecret();
    await withVault(dbPath(), newKey(), async (vault, state) => {
      await vault.set("github", oldValue, BINDING, "2030-01-01T00:00:00.000Z");
      const before = await state.secret("github");
      const info = await vault.rotate("github", newValue, "2030-02-01T00:00:00.000Z");
      assert.equal(info.version, 2);
      assert.deepEqual(info.binding, BINDING);
      assert.equal(info.createdAt, "2030-01-01T00:00:00.000Z");
      assert.equal(info.updatedAt, "2030-02-01T00:00:00.000Z");
      assert.equal(await vault.reveal("github"), newValue);
      assert.deepEqual(await vault.values(), [{ ref: "github", value: newValue }]);
      const row = await state.secret("github");
      assert.ok(row && before);
      assert.equal(row.nonce.equals(before.nonce), false, "a rotation reused the nonce");
      assert.equal(row.sealed.equals(before.sealed), false);
      assert.equal((await failure(vault.rotate("nothing", newValue))).code, "SECRET_NOT_FOUND");
    });
  });

  it("binds each ciphertext to its ref and version: swapped or rolled-back records fail as VAULT_CORRUPT", async () => {
    const alphaValue = freshSecret();
    const betaValue = freshSecret();
    await withVault(dbPath(), newKey(), async (vault, state) => {
      await vault.set("alpha", alphaValue, BINDING);
      await vault.set("beta", betaValue, BINDING);
      const alpha = await state.secret("alpha");
      const beta = await state.secret("beta");
      assert.ok(alpha && beta);

      // beta's sealed value under alpha's ref (same version): must not reveal beta's secret.
      await state.putSecret({ ...alpha, nonce: beta.nonce, sealed: beta.sealed });
      const swapped = await failure(vault.reveal("alpha"));
      assert.equal(swapped.code, "VAULT_CORRUPT");
      assert.equal(swapped.message.includes(betaValue), false);
      assert.equal(await vault.reveal("beta"), betaValue);

      // alpha's own version-1 ciphertext presented as version 2 (a rollback after a rotation).
      await state.putSecret({ ...alpha, version: 2 });
      assert.equal((await failure(vault.reveal("alpha"))).code, "VAULT_CORRUPT");

      // One flipped bit in the sealed bytes.
      const flipped = Buffer.from(alpha.sealed);
      flipped[0] = flipped[0]! ^ 1;
      await state.putSecret({ ...alpha, sealed: flipped });
      assert.equal((await failure(vault.reveal("alpha"))).code, "VAULT_CORRUPT");

      // The untouched original still opens.
      await state.putSecret(alpha);
      assert.equal(await vault.reveal("alpha"), alphaValue);
    });
  });

  it("never writes a value in the clear to state.db or its WAL", async () => {
    const path = dbPath();
    const first = freshSecret();
    const second = freshSecret();
    const state = await StateDb.open(path);
    try {
      const vault = await Vault.open(state, newKey());
      await vault.set("github", first, BINDING);
      await vault.rotate("github", second);
      await vault.set("other", first, BINDING);
      assert.equal(await vault.reveal("other"), first);
      assert.ok(existsSync(path));
      for (const file of [path, `${path}-wal`]) {
        for (const v of [first, second]) assert.equal(fileHolds(file, v), false, `${file} holds a value in the clear`);
      }
      // The binding is stored (it is not secret), which shows the search itself works.
      assert.ok(fileHolds(path, "api.github.com") || fileHolds(`${path}-wal`, "api.github.com"));
    } finally {
      await state.close();
    }
    for (const v of [first, second]) assert.equal(fileHolds(path, v), false);
  });

  it("removes a secret", async () => {
    await withVault(dbPath(), newKey(), async (vault) => {
      await vault.set("github", freshSecret(), BINDING);
      assert.equal(await vault.remove("github"), true);
      assert.equal(await vault.remove("github"), false);
      assert.equal(await vault.reveal("github"), undefined);
      assert.deepEqual(await vault.list(), []);
    });
  });

  it("rejects invalid refs, bindings and values, storing nothing", async () => {
    await withVault(dbPath(), newKey(), async (vault) => {
      for (const ref of ["", "GitHub", "1abc", "has space", "a/b", "x".repeat(65), "cred:github"]) {
        await rejection(vault.set(ref, "value-1234", BINDING));
      }
      const bad: unknown[] = [
        { hosts: [], skills: ["@demo/*"] },
        { hosts: ["api.github.com"], skills: [] },
        { hosts: ["API.GITHUB.COM"], skills: ["@demo/*"] },
        { hosts: ["http://api.github.com"], skills: ["@demo/*"] },
        { hosts: ["api.github.com"], skills: ["demo"] },
        { hosts: ["api.github.com"], skills: ["@demo/*"], methods: ["TRACE"] },
        { hosts: ["api.github.com"], skills: ["@demo/*"], paths: ["repos/"] },
        { hosts: ["api.github.com"], skills: ["@demo/*"], extra: true },
      ];
      for (const binding of bad) await rejection(vault.set("github", "value-1234", binding as SecretBinding));
      assert.equal((await failure(vault.set("github", "", BINDING))).code, "BAD_REQUEST");
      assert.equal((await failure(vault.set("github", "x".repeat(16_385), BINDING))).code, "BAD_REQUEST");
      assert.deepEqual(await vault.list(), []);
    });
  });

  it("ensureMasterKeyFile writes a 0600 key once, and loadMasterKey reads it", async () => {
    const keyFile = join(dir, "keys", "master.key");
    assert.equal(await loadMasterKey(keyFile, {}), undefined);
    assert.equal(await ensureMasterKeyFile(keyFile, {}), true);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const text = readFileSync(keyFile, "utf8");
    const key = await loadMasterKey(keyFile, {});
    assert.ok(key);
    assert.equal(key.length, 32);
    assert.deepEqual(key, Buffer.from(text.trim(), "base64"));
    // A second call keeps the existing key.
    assert.equal(await ensureMasterKeyFile(keyFile, {}), false);
    assert.equal(readFileSync(keyFile, "utf8"), text);
    // The key it made opens a vault.
    const value = freshSecret();
    const path = dbPath();
    await withVault(path, key, (vault) => vault.set("github", value, BINDING));
    assert.equal(await withVault(path, await loadMasterKey(keyFile, {}), (vault) => vault.reveal("github")), value);
  });

  it("prefers SKILLGATE_MASTER_KEY (hex or base64) and then writes no key file", async () => {
    const keyFile = join(dir, "env-keys", "master.key");
    const key = newKey();
    for (const text of [key.toString("hex"), key.toString("hex").toUpperCase(), key.toString("base64"), key.toString("base64url"), ` ${key.toString("base64")}\n`]) {
      assert.deepEqual(await loadMasterKey(keyFile, { [MASTER_KEY_ENV]: text }), key);
    }
    assert.equal(await ensureMasterKeyFile(keyFile, { [MASTER_KEY_ENV]: key.toString("hex") }), false);
    assert.equal(existsSync(keyFile), false);
  });

  it("rejects a malformed key (VAULT_KEY_INVALID) without echoing it", async () => {
    const keyFile = join(dir, "absent", "master.key");
    const malformed = [
      "not-a-key",
      randomBytes(31).toString("hex"),
      randomBytes(33).toString("hex"),
      randomBytes(24).toString("base64"),
      randomBytes(48).toString("base64"),
      `${randomBytes(32).toString("hex").slice(0, 63)}g`,
    ];
    for (const text of malformed) {
      const err = await failure(loadMasterKey(keyFile, { [MASTER_KEY_ENV]: text }));
      assert.equal(err.code, "VAULT_KEY_INVALID");
      assert.equal(err.message.includes(text), false, "the error echoes the malformed key");
    }
    const badFile = join(dir, "bad-master.key");
    writeFileSync(badFile, "short\n");
    assert.equal((await failure(loadMasterKey(badFile, {}))).code, "VAULT_KEY_INVALID");
  });
});

// ---------------------------------------------------------------------------------------

describe("scrubber", () => {
  const REF = "github";
  const MARK = `[REDACTED cred:${REF}]`;
  const secret = randomBytes(18).toString("base64url");
  const scrubber = new Scrubber();
  before(() => scrubber.update([{ ref: REF, value: secret }]));

  /** What remains of the text once the redaction marks are taken out. */
  const residue = (text: string) => text.split(MARK).join("");

  /** The forms a secret is checked in, each a whole string that carries it. */
  function forms(value: string): [string, string][] {
    return [
      ["raw", value],
      ...[0, 1, 2].flatMap((k): [string, string][] => {
        const bytes = Buffer.concat([Buffer.from("xyz".slice(0, k)), Buffer.from(value, "utf8")]);
        return [
          [`base64 after ${k} bytes`, bytes.toString("base64")],
          [`base64url after ${k} bytes`, bytes.toString("base64url")],
        ];
      }),
      ["hex", Buffer.from(value, "utf8").toString("hex")],
      ["HEX", Buffer.from(value, "utf8").toString("hex").toUpperCase()],
      ["url-encoded", encodeURIComponent(value)],
      ["basic auth", `Basic ${Buffer.from(`user:${value}`).toString("base64")}`],
      ["json-escaped", JSON.stringify(value).slice(1, -1)],
      ["json document", JSON.stringify({ token: value })],
    ];
  }

  it("replaces the raw value, alone and inside longer text", () => {
    assert.equal(scrubber.scrub(secret), MARK);
    assert.equal(scrubber.scrub(`token=${secret}; again ${secret}.`), `token=${MARK}; again ${MARK}.`);
    assert.equal(scrubber.holdsSecret(`Bearer ${secret}`), true);
    assert.equal(scrubber.holdsSecret(scrubber.scrub(`Bearer ${secret}`)), false);
    assert.equal(scrubber.scrub("nothing to see"), "nothing to see");
  });

  it("replaces base64 and base64url at every alignment so the bytes cannot be decoded back", () => {
    for (const prefix of ["", "x", "xy"]) {
      const bytes = Buffer.from(prefix + secret, "utf8");
      for (const encoding of ["base64", "base64url"] as const) {
        const encoded = bytes.toString(encoding);
        const text = `header ${encoded} trailer`;
        assert.equal(scrubber.holdsSecret(text), true, `${encoding} after ${prefix.length} bytes not recognised`);
        const scrubbed = scrubber.scrub(text);
        assert.ok(scrubbed.includes(MARK), `${encoding} after ${prefix.length} bytes: ${scrubbed}`);
        assert.equal(scrubber.holdsSecret(scrubbed), false);
        // Whatever is left of the encoding, decoded in either alphabet, no longer holds the secret.
        const left = residue(scrubbed).replace(/^header /, "").replace(/ trailer$/, "");
        for (const decoding of ["base64", "base64url"] as const) {
          assert.equal(Buffer.from(left, decoding).includes(Buffer.from(secret)), false);
          for (const piece of scrubbed.split(MARK)) assert.equal(Buffer.from(piece.trim(), decoding).includes(Buffer.from(secret)), false);
        }
      }
    }
  });

  it("replaces hex (both cases), URL-encoded, basic-auth and JSON-escaped forms", () => {
    for (const [name, form] of forms(secret)) {
      const scrubbed = scrubber.scrub(`before ${form} after`);
      assert.ok(scrubbed.includes(MARK), `${name} was not redacted: ${scrubbed}`);
      assert.equal(scrubbed.includes(secret), false, name);
      assert.equal(scrubber.holdsSecret(scrubbed), false, name);
    }
    const auth = scrubber.scrub(`Authorization: Basic ${Buffer.from(`user:${secret}`).toString("base64")}`);
    assert.equal(Buffer.from(residue(auth).replace("Authorization: Basic ", ""), "base64").includes(Buffer.from(secret)), false);
  });

  it("scrubs every string in a JSON value, keys included, and leaves other values alone", () => {
    const value = { [secret]: [secret, `x ${Buffer.from(secret).toString("hex")}`, 1, true, null], nested: { token: `Bearer ${secret}` }, n: 42 };
    assert.deepEqual(scrubber.scrubJson(value), { [MARK]: [MARK, `x ${MARK}`, 1, true, null], nested: { token: `Bearer ${MARK}` }, n: 42 });
    assert.equal(JSON.stringify(scrubber.scrubJson(value)).includes(secret), false);
  });

  it("names the right ref when several secrets are known", () => {
    const other = randomBytes(18).toString("base64url");
    const two = new Scrubber();
    two.update([
      { ref: "github", value: secret },
      { ref: "slack", value: other },
    ]);
    assert.equal(two.scrub(`${secret} ${Buffer.from(other).toString("hex")}`), `${MARK} [REDACTED cred:slack]`);
    // update replaces the known set: a dropped secret is no longer matched.
    two.update([{ ref: "slack", value: other }]);
    assert.equal(two.scrub(secret), secret);
  });

  it("an empty scrubber returns everything unchanged", () => {
    const empty = new Scrubber();
    const value = { a: [secret, 1], b: null };
    assert.equal(empty.scrub(`x ${secret} y`), `x ${secret} y`);
    assert.equal(empty.scrubJson(value), value);
    assert.equal(empty.holdsSecret(secret), false);
    empty.update([]);
    assert.equal(empty.scrub(secret), secret);
  });

  it("property: no form of a secret survives scrubbing, whatever surrounds it", () => {
    const text = fc.string({ maxLength: 40 });
    const value = fc.oneof(
      fc.uint8Array({ minLength: 6, maxLength: 48 }).map((b) => Buffer.from(b).toString("base64url")),
      fc.string({ minLength: 8, maxLength: 48 }),
      fc.string({ minLength: 8, maxLength: 24, unit: "grapheme" }),
    );
    fc.assert(
      fc.property(value, text, text, (value, prefix, suffix) => {
        const s = new Scrubber();
        s.update([{ ref: "prop", value }]);
        for (const [name, form] of forms(value)) {
          const input = prefix + form + suffix;
          assert.equal(s.holdsSecret(input), true, `${name} not recognised`);
          const out = s.scrub(input);
          assert.equal(out.includes(value), false, `${name}: the raw secret survived`);
          assert.equal(s.holdsSecret(out), false, `${name}: an encoding survived: ${out}`);
        }
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------

describe("egress address policy", () => {
  it("classifies addresses", () => {
    const table: [string, AddressClass][] = [
      ["127.0.0.1", "loopback"],
      ["127.255.0.9", "loopback"],
      ["::1", "loopback"],
      ["0:0:0:0:0:0:0:1", "loopback"],
      ["10.1.2.3", "private"],
      ["172.16.0.1", "private"],
      ["172.31.255.255", "private"],
      ["192.168.1.1", "private"],
      ["100.64.0.1", "private"],
      ["fd00::1", "private"],
      ["fc00::1", "private"],
      ["fe80::1", "link-local"],
      ["169.254.1.1", "link-local"],
      ["169.254.169.254", "metadata"],
      ["169.254.170.2", "metadata"],
      ["fd00:ec2::254", "metadata"],
      ["FD00:EC2::254", "metadata"],
      // IPv4-mapped IPv6, dotted and hex, either case.
      ["::ffff:127.0.0.1", "loopback"],
      ["::ffff:7f00:1", "loopback"],
      ["::FFFF:7F00:1", "loopback"],
      ["::ffff:10.0.0.1", "private"],
      ["::ffff:169.254.169.254", "metadata"],
      ["::ffff:a9fe:a9fe", "metadata"],
      // NAT64 (64:ff9b::/96) of the metadata address.
      ["64:ff9b::a9fe:a9fe", "metadata"],
      ["64:ff9b::169.254.169.254", "metadata"],
      ["0.0.0.0", "reserved"],
      ["::", "reserved"],
      ["224.0.0.1", "reserved"],
      ["255.255.255.255", "reserved"],
      ["192.0.2.1", "reserved"],
      ["2001:db8::1", "reserved"],
      ["ff02::1", "reserved"],
      ["8.8.8.8", "public"],
      ["172.32.0.1", "public"],
      ["100.128.0.1", "public"],
      ["2606:4700::1111", "public"],
      ["not-an-ip", "reserved"],
      ["", "reserved"],
      ["[::1]", "reserved"],
    ];
    for (const [address, expected] of table) assert.equal(classifyAddress(address), expected, address);
  });

  it("never calls a translated form of a non-public IPv4 address public", () => {
    for (const v4 of ["127.0.0.1", "10.0.0.1", "169.254.169.254", "192.168.0.1"]) {
      const [a, b, c, d] = v4.split(".").map(Number) as [number, number, number, number];
      const hex = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
      for (const form of [`::ffff:${v4}`, `::ffff:${hex}`, `64:ff9b::${v4}`, `64:ff9b::${hex}`]) {
        assert.notEqual(classifyAddress(form), "public", form);
        assert.equal(classifyAddress(form), classifyAddress(v4), form);
      }
    }
  });

  it("strips the brackets of an IPv6 URL host", () => {
    assert.equal(bareHost("[::1]"), "::1");
    assert.equal(bareHost("example.com"), "example.com");
    assert.equal(bareHost("127.0.0.1"), "127.0.0.1");
  });

  describe("resolveAllowed", () => {
    /** A resolver with fixed answers that records what it was asked. */
    function resolver(answers: Record<string, string[]>): Resolver & { asked: string[] } {
      const asked: string[] = [];
      const fn = async (host: string): Promise<ResolvedAddress[]> => {
        asked.push(host);
        return (answers[host] ?? []).map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
      };
      return Object.assign(fn, { asked });
    }

    const refused = async (host: string, allowed: string[], resolve: Resolver) => {
      const err = await failure(resolveAllowed(host, allowed, resolve));
      assert.equal(err.code, "EGRESS_REFUSED", `${host}: ${err.message}`);
      return err;
    };

    it("lets a public host through, pinned to its first answer", async () => {
      const r = resolver({ "api.example.com": ["93.184.216.34", "2606:2800:220:1::1"] });
      assert.deepEqual(await resolveAllowed("api.example.com", [], r), { address: "93.184.216.34", family: 4 });
      assert.deepEqual(r.asked, ["api.example.com"]);
    });

    it("refuses a host that resolves to a private address unless the operator allowed that host", async () => {
      const r = resolver({ "internal.example": ["10.0.0.5"] });
      const err = await refused("internal.example", [], r);
      assert.match(err.message, /private/);
      await refused("internal.example", ["other.example", "10.0.0.5"], r);
      assert.deepEqual(await resolveAllowed("internal.example", ["internal.example"], r), { address: "10.0.0.5", family: 4 });
    });

    it("refuses when any one of several answers is not public", async () => {
      for (const bad of ["127.0.0.1", "10.9.9.9", "::1", "fe80::1", "169.254.169.254", "::ffff:7f00:1", "0.0.0.0"]) {
        await refused("mixed.example", [], resolver({ "mixed.example": ["8.8.8.8", bad] }));
        await refused("mixed.example", [], resolver({ "mixed.example": [bad, "8.8.8.8"] }));
      }
    });

    it("refuses a metadata address even for an allowed host name; only the literal, listed, is let through", async () => {
      const r = resolver({ "meta.example": ["169.254.169.254"], "meta6.example": ["fd00:ec2::254"] });
      assert.match((await refused("meta.example", ["meta.example"], r)).message, /metadata/);
      await refused("meta6.example", ["meta6.example"], r);
      await refused("169.254.169.254", [], r);
      await refused("169.254.169.254", ["meta.example"], r);
      assert.deepEqual(await resolveAllowed("169.254.169.254", ["169.254.169.254"], r), { address: "169.254.169.254", family: 4 });
      assert.deepEqual(await resolveAllowed("[fd00:ec2::254]", ["fd00:ec2::254"], r), { address: "fd00:ec2::254", family: 6 });
      assert.deepEqual(r.asked, ["meta.example", "meta6.example"]);
    });

    it("checks IP literals directly, bracketed IPv6 included, without asking the resolver", async () => {
      const r = resolver({});
      await refused("127.0.0.1", [], r);
      await refused("[::1]", [], r);
      await refused("::1", [], r);
      await refused("[::ffff:127.0.0.1]", [], r);
      await refused("[64:ff9b::a9fe:a9fe]", [], r);
      assert.deepEqual(await resolveAllowed("8.8.8.8", [], r), { address: "8.8.8.8", family: 4 });
      assert.deepEqual(await resolveAllowed("[::1]", ["::1"], r), { address: "::1", family: 6 });
      assert.deepEqual(await resolveAllowed("127.0.0.1", ["127.0.0.1"], r), { address: "127.0.0.1", family: 4 });
      assert.deepEqual(r.asked, []);
    });

    it("fails with NET_FAILED when the resolver fails or has no answer", async () => {
      const broken: Resolver = async () => {
        throw Object.assign(new Error("getaddrinfo ENOTFOUND nowhere.example"), { code: "ENOTFOUND" });
      };
      const err = await failure(resolveAllowed("nowhere.example", [], broken));
      assert.equal(err.code, "NET_FAILED");
      assert.match(err.message, /ENOTFOUND/);
      const empty = await failure(resolveAllowed("empty.example", ["empty.example"], resolver({})));
      assert.equal(empty.code, "NET_FAILED");
    });
  });
});

// ---------------------------------------------------------------------------------------

describe("policy engine", () => {
  type Context = Record<string, string | number | boolean>;

  let defaults: PolicyEngine;
  before(async () => {
    defaults = await PolicyEngine.load([]);
  });

  function request(action: string, context: Context, resource: PolicyRequest["resource"] = { type: "Tool", id: "@demo/skill.tool" }): PolicyRequest {
    return { principal: { type: "Agent", id: "demo" }, action, resource, context: { ...FRESH_CONTEXT, ...context } };
  }
  const decide = (action: string, context: Context, resource?: PolicyRequest["resource"]) => defaults.decide(request(action, context, resource));

  it("loads the shipped defaults", () => {
    assert.deepEqual(defaults.ids.sort(), [
      "declared-capabilities",
      "egress-budget",
      "external-tools-ask",
      "read-only",
      "read-only-files",
      "read-tools",
      "tainted-credential-use",
      "tainted-credentials-ask",
      "tool-call-budget",
      "write-tools",
    ]);
  });

  it("allows read and write tools, asks for external ones", () => {
    assert.deepEqual(decide("tool.call", { effect: "read" }), { decision: "allow", policies: ["read-tools"], reason: "permitted by read-tools" });
    assert.deepEqual(decide("tool.call", { effect: "write" }), { decision: "allow", policies: ["write-tools"], reason: "permitted by write-tools" });
    const external = decide("tool.call", { effect: "external" });
    assert.equal(external.decision, "ask");
    assert.deepEqual(external.policies, ["external-tools-ask"]);
    assert.match(external.reason, /external effect/);
  });

  it("asks before a credential-using tool runs in a tainted session, even a read tool", () => {
    const d = decide("tool.call", { effect: "read", tainted: true, usesCredentials: true });
    assert.equal(d.decision, "ask");
    assert.deepEqual(d.policies, ["tainted-credentials-ask"]);
    assert.equal(decide("tool.call", { effect: "read", tainted: true }).decision, "allow");
    assert.equal(decide("tool.call", { effect: "read", usesCredentials: true }).decision, "allow");
  });

  it("a read-only agent runs reads only and writes no files", () => {
    assert.deepEqual(decide("tool.call", { readOnly: true, effect: "write" }), { decision: "deny", policies: ["read-only"], reason: "forbidden by read-only" });
    assert.equal(decide("tool.call", { readOnly: true, effect: "external" }).decision, "deny");
    assert.equal(decide("tool.call", { readOnly: true, effect: "read" }).decision, "allow");
    const write = decide("fs.write", { readOnly: true }, { type: "Path", id: "notes.txt" });
    assert.equal(write.decision, "deny");
    assert.deepEqual(write.policies, ["read-only-files"]);
    assert.equal(decide("fs.write", {}, { type: "Path", id: "notes.txt" }).decision, "allow");
    assert.equal(decide("fs.read", { readOnly: true }, { type: "Path", id: "notes.txt" }).decision, "allow");
  });

  it("enforces the per-session budgets", () => {
    const calls = decide("tool.call", { toolCalls: 1000, maxToolCalls: 1000 });
    assert.equal(calls.decision, "deny");
    assert.deepEqual(calls.policies, ["tool-call-budget"]);
    assert.equal(decide("tool.call", { toolCalls: 999, maxToolCalls: 1000 }).decision, "allow");
    const host = { type: "Host" as const, id: "api.example.com" };
    const egress = decide("net.fetch", { egressBytes: 64 * 1024 * 1024 }, host);
    assert.equal(egress.decision, "deny");
    assert.deepEqual(egress.policies, ["egress-budget"]);
    assert.equal(decide("net.fetch", { egressBytes: 64 * 1024 * 1024 - 1 }, host).decision, "allow");
    // The egress budget is about fetching: a tool call is not charged against it.
    assert.equal(decide("tool.call", { egressBytes: 64 * 1024 * 1024 }).decision, "allow");
  });

  it("uses a credential in a tainted session only inside an approved call", () => {
    const cred = { type: "Credential" as const, id: "github" };
    const denied = decide("credential.use", { tainted: true, approved: false }, cred);
    assert.equal(denied.decision, "deny");
    assert.deepEqual(denied.policies, ["tainted-credential-use"]);
    assert.equal(decide("credential.use", { tainted: true, approved: true }, cred).decision, "allow");
    assert.equal(decide("credential.use", { tainted: false }, cred).decision, "allow");
  });

  it("denies by default what no policy permits", () => {
    const other = decide("tool.call", { effect: "other" });
    assert.deepEqual(other, { decision: "deny", policies: [], reason: "no policy permits it (deny by default)" });
    assert.match(decide("approvals.resolve", {}).reason, /deny by default/);
  });

  it("a forbid beats an @ask permit in a custom source", () => {
    const engine = PolicyEngine.fromSources([
      {
        name: "custom.cedar",
        text: [
          '@id("ask-everything") @ask("check every call") permit (principal, action == Action::"tool.call", resource);',
          '@id("no-evil") forbid (principal, action == Action::"tool.call", resource == Tool::"@evil/skill.run");',
        ].join("\n"),
      },
    ]);
    assert.deepEqual(engine.ids, ["ask-everything", "no-evil"]);
    assert.deepEqual(engine.decide(request("tool.call", {}, { type: "Tool", id: "@evil/skill.run" })), { decision: "deny", policies: ["no-evil"], reason: "forbidden by no-evil" });
    assert.deepEqual(engine.decide(request("tool.call", {}, { type: "Tool", id: "@good/skill.run" })), { decision: "ask", policies: ["ask-everything"], reason: "check every call" });
  });

  it("an @ask permit is not bypassed by a broader plain permit", () => {
    const engine = PolicyEngine.fromSources([
      { name: "a.cedar", text: '@id("all") permit (principal, action, resource);' },
      { name: "b.cedar", text: '@id("pay-ask") @ask("") permit (principal, action == Action::"tool.call", resource) when { context.effect == "external" };' },
    ]);
    const d = engine.decide(request("tool.call", { effect: "external" }));
    assert.equal(d.decision, "ask");
    assert.deepEqual(d.policies, ["pay-ask"]);
    assert.equal(d.reason, "approval required");
    assert.equal(engine.decide(request("tool.call", { effect: "read" })).decision, "allow");
  });

  it("rejects a duplicate @id and a syntax error with POLICY_INVALID and one line", async () => {
    const dup = await failure(() =>
      PolicyEngine.fromSources([
        { name: "one.cedar", text: '@id("same") permit (principal, action, resource);' },
        { name: "two.cedar", text: '@id("same") forbid (principal, action, resource);' },
      ]),
    );
    assert.equal(dup.code, "POLICY_INVALID");
    assert.match(dup.message, /same/);
    assert.match(dup.message, /^two\.cedar: /);

    for (const text of ["permit (principal, action, resource", 'permit (principal, action resource) when { context.x == };\nforbid (principal, action, resource);', "allow everything;"]) {
      const err = await failure(() => PolicyEngine.fromSources([{ name: "broken.cedar", text }]));
      assert.equal(err.code, "POLICY_INVALID");
      assert.match(err.message, /^broken\.cedar: /);
      assert.equal(err.message.includes("\n"), false, `multi-line message: ${JSON.stringify(err.message)}`);
    }
    const missing = await failure(PolicyEngine.load([join(tmpdir(), `skillgate-no-such-${randomBytes(6).toString("hex")}.cedar`)]));
    assert.equal(missing.code, "POLICY_INVALID");
  });

  it("fails closed when a permit reads a context attribute that is not there", () => {
    const engine = PolicyEngine.fromSources([{ name: "m.cedar", text: '@id("needs-flag") permit (principal, action == Action::"tool.call", resource) when { context.notThere == true };' }]);
    const d = engine.decide(request("tool.call", {}));
    assert.equal(d.decision, "deny");
    assert.match(d.reason, /notThere/);
    // The defaults with an incomplete context: no permit applies cleanly, so deny.
    const bare = defaults.decide({ principal: { type: "Agent", id: "demo" }, action: "tool.call", resource: { type: "Tool", id: "x" }, context: {} });
    assert.equal(bare.decision, "deny");
    const { effect: _effect, ...noEffect } = FRESH_CONTEXT;
    assert.equal(defaults.decide({ principal: { type: "Agent", id: "demo" }, action: "tool.call", resource: { type: "Tool", id: "x" }, context: noEffect }).decision, "deny");
  });

  it(
    "fails closed when a forbid reads a context attribute that is not there",
    () => {
      const engine = PolicyEngine.fromSources([
        {
          name: "f.cedar",
          text: '@id("all") permit (principal, action == Action::"tool.call", resource);\n@id("guard") forbid (principal, action == Action::"tool.call", resource) when { context.notThere == true };',
        },
      ]);
      assert.equal(engine.decide(request("tool.call", {})).decision, "deny");
      const { maxToolCalls: _max, ...noBudget } = FRESH_CONTEXT;
      assert.equal(defaults.decide({ principal: { type: "Agent", id: "demo" }, action: "tool.call", resource: { type: "Tool", id: "x" }, context: { ...noBudget, toolCalls: 5000 } }).decision, "deny");
    },
  );
});

// ---------------------------------------------------------------------------------------

describe("approval book", () => {
  let dir: string;
  let audit: AuditLog;
  const LONG: ApprovalLimits = { timeoutMs: 60_000, maxPendingPerSession: 3, maxPerMinutePerSession: 100 };
  const DIGEST = `sha256:${"ab".repeat(32)}`;
  const OPERATOR = { role: "operator", client: "cli-1" };

  const subject = (args: ApprovalSubject["args"], session = "agent:demo:main", tool = "@demo/pay.send"): ApprovalSubject => ({
    session,
    skill: "@demo/pay",
    digest: DIGEST,
    tool,
    args,
    reason: "the tool has an external effect",
  });

  /** A notifier that records every pending approval and lets a test wait for the n-th. */
  function notifier(delivered = 1) {
    const seen: PendingApproval[] = [];
    let wake: (() => void)[] = [];
    const notify = (approval: PendingApproval): number => {
      seen.push(approval);
      const w = wake;
      wake = [];
      for (const f of w) f();
      return delivered;
    };
    const nth = async (count: number): Promise<PendingApproval> => {
      while (seen.length < count) await new Promise<void>((resolve) => wake.push(resolve));
      return seen[count - 1]!;
    };
    return { seen, notify, nth };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "skillgate-approvals-"));
    audit = await AuditLog.open({ path: join(dir, "audit.db"), signer: generateNoteKey("test.local/approvals") });
  });

  after(async () => {
    await audit?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("notifies operators of exactly what is to be approved, and an operator's allow-once releases it", async () => {
    const n = notifier();
    const book = new ApprovalBook(audit, LONG, n.notify);
    try {
      const s = subject({ to: "alice", amount: 12, memo: ["rent", { month: 3 }] });
      const now = Date.parse("2030-01-01T00:00:00.000Z");
      const pending = book.request(s, now);
      const approval = await n.nth(1);
      assert.deepEqual(
        { ...approval, id: "?" },
        { ...s, id: "?", hash: approvalHash(s), requestedAt: "2030-01-01T00:00:00.000Z", expiresAt: "2030-01-01T00:01:00.000Z" },
      );
      assert.match(approval.id, /^[0-9a-f-]{36}$/);
      assert.deepEqual(book.list(), [approval]);

      const resolved = await book.resolve(approval.id, "allow-once", OPERATOR, approval.hash);
      assert.equal(resolved.id, approval.id);
      assert.deepEqual(await pending, { answer: "allow-once", id: approval.id, hash: approval.hash });
      assert.deepEqual(book.list(), []);

      // Used once: the same id is no longer there.
      const again = await failure(book.resolve(approval.id, "allow-once", OPERATOR));
      assert.equal(again.code, "APPROVAL_NOT_FOUND");
      assert.equal((await failure(book.resolve("no-such-id", "deny", OPERATOR))).code, "APPROVAL_NOT_FOUND");
    } finally {
      book.close();
    }
  });

  it("refuses an answer from a non-operator role and leaves the request waiting", async () => {
    const n = notifier();
    const book = new ApprovalBook(audit, LONG, n.notify);
    try {
      let settled = false;
      const pending = book.request(subject({ to: "bob" })).then((r) => {
        settled = true;
        return r;
      });
      const approval = await n.nth(1);
      for (const role of ["client", "node", "", "Operator"]) {
        const err = await failure(book.resolve(approval.id, "allow-once", { role, client: "web-1" }));
        assert.equal(err.code, "FORBIDDEN", role);
      }
      assert.deepEqual(
        book.list().map((a) => a.id),
        [approval.id],
      );
      assert.equal(settled, false);
      // An admin may answer.
      await book.resolve(approval.id, "deny", { role: "admin", client: "admin-1" });
      assert.equal((await pending).answer, "deny");
    } finally {
      book.close();
    }
  });

  it("refuses an answer given for other arguments (APPROVAL_MISMATCH)", async () => {
    const n = notifier();
    const book = new ApprovalBook(audit, LONG, n.notify);
    try {
      const s = subject({ to: "carol", amount: 5 });
      const pending = book.request(s);
      const approval = await n.nth(1);
      const shown = approvalHash({ ...s, args: { to: "carol", amount: 5000 } });
      const err = await failure(book.resolve(approval.id, "allow-once", OPERATOR, shown));
      assert.equal(err.code, "APPROVAL_MISMATCH");
      assert.equal(book.list().length, 1);
      await book.resolve(approval.id, "allow-once", OPERATOR, approvalHash(s));
      assert.equal((await pending).answer, "allow-once");
    } finally {
      book.close();
    }
  });

  it("denies on expiry, after which the id cannot be answered", async () => {
    const n = notifier();
    const book = new ApprovalBook(audit, { ...LONG, timeoutMs: 50 }, n.notify);
    try {
      const pending = book.request(subject({ to: "dave" }));
      const approval = await n.nth(1);
      const result = await pending;
      assert.deepEqual(result, { answer: "deny", id: approval.id, hash: approval.hash });
      assert.deepEqual(book.list(), []);
      assert.equal((await failure(book.resolve(approval.id, "allow-once", OPERATOR))).code, "APPROVAL_NOT_FOUND");
    } finally {
      book.close();
    }
  });

  it("caps pending prompts per session; the overflow is denied at once and other sessions are unaffected", async () => {
    const n = notifier();
    const book = new ApprovalBook(audit, LONG, n.notify);
    try {
      const waiting: Promise<{ answer: string }>[] = [];
      for (let i = 0; i < 3; i++) {
        waiting.push(book.request(subject({ i })));
        await n.nth(i + 1);
      }
      // Three wait; every further one in that session is denied without asking anyone.
      const overflow = await Promise.all([3, 4, 5, 6].map((i) => book.request(subject({ i }))));
      assert.deepEqual(
        overflow.map((r) => r.answer),
        ["deny", "deny", "deny", "deny"],
      );
      assert.equal(n.seen.length, 3, "an overflowing request reached an operator");
      assert.equal(book.list().length, 3);

      // Another session still gets through.
      const other = book.request(subject({ i: 0 }, "agent:other:main"));
      const otherApproval = await n.nth(4);
      assert.equal(otherApproval.session, "agent:other:main");
      await book.resolve(otherApproval.id, "allow-once", OPERATOR);
      assert.equal((await other).answer, "allow-once");

      // Once one is answered, the session has room again.
      await book.resolve(n.seen[0]!.id, "deny", OPERATOR);
      const next = book.request(subject({ i: 7 }));
      const nextApproval = await n.nth(5);
      assert.deepEqual(nextApproval.args, { i: 7 });
      book.close();
      assert.deepEqual(
        (await Promise.all([...waiting, next])).map((r) => r.answer),
        ["deny", "deny", "deny", "deny"],
      );
    } finally {
      book.close();
    }
  });

  it(
    "caps pending prompts per session even when the requests arrive together",
    async () => {
      const n = notifier();
      const book = new ApprovalBook(audit, LONG, n.notify);
      try {
        const all = [0, 1, 2, 3, 4, 5].map((i) => book.request(subject({ together: i }, "agent:burst:main")));
        await n.nth(3);
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.ok(book.list().length <= 3, `${book.list().length} prompts pending in one session`);
        book.close();
        await Promise.all(all);
      } finally {
        book.close();
      }
    },
  );

  it("caps prompts per session per minute", async () => {
    const n = notifier();
    const book = new ApprovalBook(audit, { timeoutMs: 60_000, maxPendingPerSession: 10, maxPerMinutePerSession: 2 }, n.notify);
    const t0 = Date.parse("2030-06-01T12:00:00.000Z");
    try {
      const first = book.request(subject({ m: 1 }), t0);
      await n.nth(1);
      const second = book.request(subject({ m: 2 }), t0 + 1_000);
      await n.nth(2);
      assert.equal((await book.request(subject({ m: 3 }), t0 + 2_000)).answer, "deny");
      assert.equal((await book.request(subject({ m: 4 }), t0 + 59_999)).answer, "deny");
      assert.equal(n.seen.length, 2);
      // A different session has its own minute.
      const other = book.request(subject({ m: 1 }, "agent:other:main"), t0 + 2_000);
      await n.nth(3);
      // A minute after the first two, there is room again.
      const later = book.request(subject({ m: 5 }), t0 + 61_000);
      const approval = await n.nth(4);
      assert.deepEqual(approval.args, { m: 5 });
      assert.equal(book.list().length, 4);
      book.close();
      assert.deepEqual(
        (await Promise.all([first, second, other, later])).map((r) => r.answer),
        ["deny", "deny", "deny", "deny"],
      );
    } finally {
      book.close();
    }
  });

  it("hashes session, digest, tool and canonical arguments", () => {
    const base = { session: "agent:demo:main", digest: DIGEST, tool: "@demo/pay.send", args: { to: "alice", amount: 12, nested: { b: 1, a: [1, 2] } } };
    const h = approvalHash(base);
    assert.match(h, /^[0-9a-f]{64}$/);
    assert.equal(approvalHash({ ...base }), h);
    assert.equal(approvalHash({ ...base, args: { nested: { a: [1, 2], b: 1 }, amount: 12, to: "alice" } }), h, "key order changed the hash");
    for (const changed of [
      { ...base, session: "agent:demo:other" },
      { ...base, digest: `sha256:${"cd".repeat(32)}` },
      { ...base, tool: "@demo/pay.refund" },
      { ...base, args: { ...base.args, amount: 13 } },
      { ...base, args: { ...base.args, nested: { b: 1, a: [2, 1] } } },
      { ...base, args: { ...base.args, extra: null } },
      { ...base, args: [base.args] },
    ]) {
      assert.notEqual(approvalHash(changed), h, JSON.stringify(changed));
    }
    // The skill name and reason are not part of what is approved; the digest is.
    assert.equal(approvalHash({ ...subject(base.args), session: base.session, tool: base.tool }), h);
  });

  it("close() denies everything still waiting", async () => {
    const n = notifier(0);
    const book = new ApprovalBook(audit, LONG, n.notify);
    const pending = [book.request(subject({ c: 1 })), book.request(subject({ c: 1 }, "agent:two:main"))];
    await n.nth(2);
    assert.equal(book.list().length, 2);
    book.close();
    assert.deepEqual(
      (await Promise.all(pending)).map((r) => r.answer),
      ["deny", "deny"],
    );
    assert.deepEqual(book.list(), []);
    assert.equal((await failure(book.resolve(n.seen[0]!.id, "allow-once", OPERATOR))).code, "APPROVAL_NOT_FOUND");
  });

  it("audits requests, answers, expiries and overflows in a log that verifies", async () => {
    await audit.settle();
    const entries = await audit.query({ limit: 10_000 });
    const types = new Set(entries.map((e) => e.type));
    for (const type of ["approval.requested", "approval.resolved", "approval.expired", "approval.overflow", "approval.unseen"]) {
      assert.ok(types.has(type), `no ${type} entry`);
    }
    for (const e of entries.filter((e) => e.type.startsWith("approval."))) assert.equal(e.kind, "decided");

    // The answered request: who answered, what, and for which hash.
    const resolved = entries.find((e) => e.type === "approval.resolved" && e.data["decision"] === "allow-once" && e.actor === "operator:cli-1");
    assert.ok(resolved);
    assert.equal(resolved.data["role"], "operator");
    assert.equal(resolved.session, "agent:demo:main");
    const requested = entries.find((e) => e.type === "approval.requested" && e.data["id"] === resolved.data["id"]);
    assert.ok(requested, "the answered request was not audited");
    assert.equal(requested.data["hash"], resolved.data["hash"]);
    // The arguments the operator was shown are kept as a blob, canonical JSON.
    const blob = requested.blobs[0];
    assert.ok(blob);
    const args = { to: "alice", amount: 12, memo: ["rent", { month: 3 }] };
    assert.equal((await audit.blob(blob.sha256))?.toString("utf8"), canonicalJson(args));
    assert.equal(requested.data["hash"], approvalHash(subject(args)));

    // A refused (FORBIDDEN, MISMATCH) answer is not recorded as an answer.
    assert.equal(entries.some((e) => e.type === "approval.resolved" && e.actor === "operator:web-1"), false);
    const overflow = entries.filter((e) => e.type === "approval.overflow");
    assert.ok(overflow.length >= 6);
    assert.ok(overflow.every((e) => typeof e.data["hash"] === "string"));

    const report = await audit.verify();
    assert.equal(report.ok, true, JSON.stringify(report.failure));
    assert.equal(report.entries, audit.size);
  });
});
