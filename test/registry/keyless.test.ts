/**
 * Keyless round trip against @sigstore/mock's in-process CA, CT log and TSA with a test
 * trusted root (no network): our signSkillKeyless builds the bundle through a Signer that
 * calls the mock Fulcio handler directly and a Witness that calls the mock TSA handler.
 */
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, type KeyObject, sign as cryptoSign } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fulcioHandler, initializeCA, initializeCTLog, initializeTSA, tsaHandler } from "@sigstore/mock";
import { TrustedRoot as TrustedRootMessage } from "@sigstore/protobuf-specs";
import type { Signer, Witness } from "@sigstore/sign";
import {
  type BundleJson,
  installSkill,
  type PackedSkill,
  packSkill,
  publicGoodTrustedRoot,
  readLockfile,
  RegistryError,
  type RegistryErrorCode,
  signSkillKeyless,
  type TrustedRoot,
  type TrustIdentity,
  type TrustPolicy,
  TrustPolicySchema,
  verifySkillPackage,
} from "../../skills-registry/index.js";
import { repoRoot } from "../support/paths.js";

type CA = Awaited<ReturnType<typeof initializeCA>>;
type CTLog = Awaited<ReturnType<typeof initializeCTLog>>;
type TSA = Awaited<ReturnType<typeof initializeTSA>>;
type KeyPair = { publicKey: KeyObject; privateKey: KeyObject };

const ISSUER = "https://token.actions.githubusercontent.com";
const SAN = "https://github.com/acme/skills/.github/workflows/release.yml@refs/heads/main";
const EVIL_SAN = "https://github.com/acme/skills-evil/.github/workflows/x.yml@refs/heads/main";
/** Fulcio's v2 OIDC issuer extension (a DER UTF8String). */
const ISSUER_OID = "1.3.6.1.4.1.57264.1.8";
const WEATHER = join(repoRoot(), "examples", "skills", "weather");

const ec = (): KeyPair => generateKeyPairSync("ec", { namedCurve: "P-256" });
const bytes = (view: ArrayBufferView): Buffer => Buffer.from(view.buffer, view.byteOffset, view.byteLength);
const b64 = (view: ArrayBufferView): string => bytes(view).toString("base64");
const pemOf = (der: ArrayBufferView): string => `-----BEGIN CERTIFICATE-----\n${b64(der)}\n-----END CERTIFICATE-----\n`;
const b64url = (value: object): string => Buffer.from(JSON.stringify(value)).toString("base64url");
/** An unsigned (alg none) OIDC token: the mock Fulcio only decodes it, sub → URI SAN, iss → issuer extension. */
const jwtFor = (iss: string, sub: string): string => `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ iss, sub, aud: "sigstore" })}.`;

function responseText(response: string | ArrayBufferView): string {
  return typeof response === "string" ? response : bytes(response).toString("utf8");
}

/** A Signer that asks the mock Fulcio (called in-process) for a certificate over an ephemeral key. */
function mockFulcioSigner(ca: CA, iss: string, sub: string): Signer {
  const fulcio = fulcioHandler(ca);
  return {
    async sign(data: Buffer) {
      const { publicKey, privateKey } = ec();
      const body = JSON.stringify({
        credentials: { oidcIdentityToken: jwtFor(iss, sub) },
        publicKeyRequest: { publicKey: { algorithm: "ECDSA", content: publicKey.export({ format: "pem", type: "spki" }) }, proofOfPossession: "" },
      });
      const res = await fulcio.fn(body);
      if (res.statusCode !== 201) throw new Error(`mock fulcio answered ${res.statusCode}: ${responseText(res.response)}`);
      const parsed = JSON.parse(responseText(res.response)) as { signedCertificateEmbeddedSct?: { chain?: { certificates?: unknown } } };
      const chain = parsed.signedCertificateEmbeddedSct?.chain?.certificates;
      const leaf = Array.isArray(chain) ? (chain[0] as unknown) : undefined;
      if (typeof leaf !== "string") throw new Error("mock fulcio returned no certificate chain");
      return { signature: cryptoSign("sha256", data, privateKey), key: { $case: "x509Certificate", certificate: leaf } };
    },
  };
}

/** A Signer holding a certificate issued directly by the CA (any SAN and extensions we like). */
async function directCertSigner(ca: CA, san: string, issuer: string): Promise<Signer> {
  const { publicKey, privateKey } = ec();
  const der = await ca.issueCertificate({
    publicKey: publicKey.export({ format: "der", type: "spki" }),
    subjectAltName: san,
    extensions: [{ oid: ISSUER_OID, value: issuer }],
  });
  const certificate = pemOf(der);
  return {
    async sign(data: Buffer) {
      return { signature: cryptoSign("sha256", data, privateKey), key: { $case: "x509Certificate", certificate } };
    },
  };
}

/** The request TSAWitness sends: the SHA-256 of the DSSE signature, stamped by the mock TSA in-process. */
function mockTsaWitness(tsa: TSA): Witness {
  const handler = tsaHandler(tsa);
  return {
    async testify(content) {
      if (content.$case !== "dsseEnvelope") throw new Error("expected a DSSE envelope");
      const sig = content.dsseEnvelope.signatures[0]?.sig;
      if (!sig) throw new Error("envelope has no signature");
      const res = await handler.fn(JSON.stringify({ artifactHash: createHash("sha256").update(sig).digest("base64"), hashAlgorithm: "sha256" }));
      if (res.statusCode !== 201) throw new Error(`mock tsa answered ${res.statusCode}: ${responseText(res.response)}`);
      const stamp = typeof res.response === "string" ? Buffer.from(res.response) : bytes(res.response);
      return { rfc3161Timestamps: [{ signedTimestamp: stamp }] };
    },
  };
}

/** A trusted_root.json naming exactly this CA, CT log and TSA, parsed the way a file would be. */
function trustedRootFor(ca: CA, ctlog: CTLog, tsa: TSA): TrustedRoot {
  const start = new Date(Date.now() - 60_000).toISOString();
  return TrustedRootMessage.fromJSON({
    mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    tlogs: [],
    certificateAuthorities: [
      {
        subject: { organization: "sigstore.mock", commonName: "sigstore" },
        uri: "https://fulcio.mock.test",
        certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
        validFor: { start },
      },
    ],
    ctlogs: [
      {
        baseUrl: "https://ctfe.mock.test",
        hashAlgorithm: "SHA2_256",
        publicKey: { rawBytes: ctlog.publicKey.toString("base64"), keyDetails: "PKIX_ECDSA_P256_SHA_256", validFor: { start } },
        logId: { keyId: b64(ctlog.logID) },
      },
    ],
    timestampAuthorities: [
      {
        subject: { organization: "sigstore.mock", commonName: "tsa" },
        uri: "https://tsa.mock.test",
        // Leaf first: the TSA signing (intermediate) certificate, then its root.
        certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] },
        validFor: { start },
      },
    ],
  });
}

function policyWith(identity: TrustIdentity, revokedIdentities: string[] = []): TrustPolicy {
  return TrustPolicySchema.parse({
    publishers: [{ name: "acme", scopes: ["@demo/*"], identities: [identity] }],
    revoked: { identities: revokedIdentities },
  });
}

function isRegistryError(code: RegistryErrorCode): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

describe("keyless signing against an in-process Sigstore (mock CA, CT log, TSA)", () => {
  let ca: CA;
  let ctlog: CTLog;
  let tsa: TSA;
  let clock: Date;
  let root: TrustedRoot;
  let pkg: PackedSkill;
  let bundle: BundleJson;
  let work: string;
  let installs = 0;

  const subjectOf = (p: PackedSkill) => ({ name: p.manifest.name, version: p.manifest.version, sha256: p.sha256 });
  const signWith = (signer: Signer): Promise<BundleJson> => signSkillKeyless(subjectOf(pkg), { signer, witnesses: [mockTsaWitness(tsa)] });

  /** Installs into a fresh store and lockfile of its own. */
  const install = (bundleJson: unknown, policy: TrustPolicy, trustedRoot: TrustedRoot = root) => {
    const dir = join(work, `install-${installs++}`);
    const lockfilePath = join(dir, "skills.lock.json");
    const result = installSkill({
      tarball: pkg.tarball,
      bundleJson,
      source: WEATHER,
      policy,
      trustedRoot,
      storeDir: join(dir, "store"),
      lockfilePath,
    });
    return { result, lockfilePath, storeDir: join(dir, "store") };
  };

  /** A refused install leaves neither a lockfile nor a store behind. */
  const assertRefused = async (bundleJson: unknown, policy: TrustPolicy, code: RegistryErrorCode, trustedRoot: TrustedRoot = root) => {
    const { result, lockfilePath, storeDir } = install(bundleJson, policy, trustedRoot);
    await assert.rejects(result, isRegistryError(code));
    assert.equal(existsSync(lockfilePath), false, "a refused install must not write the lockfile");
    assert.equal(existsSync(storeDir), false, "a refused install must not write to the store");
  };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), "skillgate-keyless-"));
    // One whole-second clock for every mock piece: the mock TSA otherwise writes a genTime
    // with a two-digit fraction that @sigstore/core rejects.
    clock = new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000);
    ctlog = await initializeCTLog(ec(), clock);
    ca = await initializeCA(ec(), ctlog, clock);
    tsa = await initializeTSA(ec(), clock);
    root = trustedRootFor(ca, ctlog, tsa);
    pkg = await packSkill(WEATHER);
    bundle = await signWith(mockFulcioSigner(ca, ISSUER, SAN));
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("builds a DSSE bundle with a certificate and one RFC 3161 timestamp (no tlog)", () => {
    assert.ok(bundle.dsseEnvelope, "a DSSE envelope");
    assert.equal(bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps.length, 1);
    assert.equal(bundle.verificationMaterial.tlogEntries?.length ?? 0, 0);
    assert.ok(bundle.verificationMaterial.certificate?.rawBytes, "the leaf certificate as verification material");
  });

  it("round trip: pack, keyless-sign, install with the exact SAN and issuer", async () => {
    const { result, lockfilePath } = install(bundle, policyWith({ san: SAN, issuer: ISSUER }));
    const installed = await result;
    assert.equal(installed.name, "@demo/weather");
    assert.equal(installed.version, pkg.manifest.version);
    assert.equal(installed.sha256, pkg.sha256);
    assert.equal(installed.unchanged, false);
    const expected = { type: "keyless", san: SAN, issuer: ISSUER, publisher: "acme" };
    assert.deepEqual(installed.signer, expected);
    const lock = await readLockfile(lockfilePath);
    const entry = lock.skills["@demo/weather"];
    assert.ok(entry, "the lockfile records the skill");
    assert.deepEqual(entry.signer, expected);
    assert.equal(entry.sha256, pkg.sha256);
  });

  it("the bundle survives a JSON round trip (as it is read from .sigstore.json)", () => {
    const reread: unknown = JSON.parse(JSON.stringify(bundle));
    const verified = verifySkillPackage(pkg.tarball, reread, policyWith({ san: SAN, issuer: ISSUER }), root);
    assert.deepEqual(verified.subject, subjectOf(pkg));
    assert.deepEqual(verified.signer, { type: "keyless", san: SAN, issuer: ISSUER, publisher: "acme" });
  });

  it("a sanPattern is anchored by us and accepts the real SAN", async () => {
    const { result } = install(bundle, policyWith({ sanPattern: "https://github\\.com/acme/skills/.*", issuer: ISSUER }));
    const installed = await result;
    assert.deepEqual(installed.signer, { type: "keyless", san: SAN, issuer: ISSUER, publisher: "acme" });
  });

  it("a sanPattern matching only part of the SAN does not accept it (whole-string match)", async () => {
    await assertRefused(bundle, policyWith({ sanPattern: "https://github\\.com/acme/skills", issuer: ISSUER }), "SKILL_UNTRUSTED_SIGNER");
    await assertRefused(bundle, policyWith({ sanPattern: "acme/skills/.*", issuer: ISSUER }), "SKILL_UNTRUSTED_SIGNER");
  });

  describe("SAN prefix attack: a valid certificate for …/acme/skills-evil/…", () => {
    let evil: BundleJson;
    before(async () => {
      evil = await signWith(await directCertSigner(ca, EVIL_SAN, ISSUER));
    });

    it("is a valid signature (accepted when its own SAN is trusted), so refusals below are about matching", () => {
      const verified = verifySkillPackage(pkg.tarball, evil, policyWith({ san: EVIL_SAN, issuer: ISSUER }), root);
      assert.deepEqual(verified.signer, { type: "keyless", san: EVIL_SAN, issuer: ISSUER, publisher: "acme" });
    });

    it("is refused by a policy naming the real SAN exactly", async () => {
      await assertRefused(evil, policyWith({ san: SAN, issuer: ISSUER }), "SKILL_UNTRUSTED_SIGNER");
    });

    it("is refused by a sanPattern that is a prefix of the evil SAN", async () => {
      // @sigstore/verify would treat this as an unanchored regex and accept the evil SAN.
      assert.ok(EVIL_SAN.startsWith("https://github.com/acme/skills"));
      await assertRefused(evil, policyWith({ sanPattern: "https://github.com/acme/skills", issuer: ISSUER }), "SKILL_UNTRUSTED_SIGNER");
    });

    it("is refused by the anchored repository pattern that accepts the real SAN", async () => {
      await assertRefused(evil, policyWith({ sanPattern: "https://github\\.com/acme/skills/.*", issuer: ISSUER }), "SKILL_UNTRUSTED_SIGNER");
    });
  });

  it("a different OIDC issuer is an untrusted signer", async () => {
    await assertRefused(bundle, policyWith({ san: SAN, issuer: "https://accounts.google.com" }), "SKILL_UNTRUSTED_SIGNER");
    // Same SAN, certified for another issuer, against the policy that trusts the real pair.
    const otherIssuer = await signWith(mockFulcioSigner(ca, "https://gitlab.com", SAN));
    await assertRefused(otherIssuer, policyWith({ san: SAN, issuer: ISSUER }), "SKILL_UNTRUSTED_SIGNER");
  });

  describe("a certificate from a CA the trusted root does not name", () => {
    let rogueCa: CA;
    let rogue: BundleJson;
    before(async () => {
      rogueCa = await initializeCA(ec(), ctlog, clock);
      rogue = await signWith(mockFulcioSigner(rogueCa, ISSUER, SAN));
    });

    it("is an invalid signature, even with the exact SAN and issuer trusted", async () => {
      await assertRefused(rogue, policyWith({ san: SAN, issuer: ISSUER }), "SKILL_SIGNATURE_INVALID");
    });

    it("verifies against a root that does name its CA (control)", () => {
      const verified = verifySkillPackage(pkg.tarball, rogue, policyWith({ san: SAN, issuer: ISSUER }), trustedRootFor(rogueCa, ctlog, tsa));
      assert.equal(verified.sha256, pkg.sha256);
    });

    it("is still invalid with its timestamps stripped", async () => {
      const stripped: BundleJson = structuredClone(rogue);
      stripped.verificationMaterial.timestampVerificationData = undefined;
      await assertRefused(JSON.parse(JSON.stringify(stripped)), policyWith({ san: SAN, issuer: ISSUER }), "SKILL_SIGNATURE_INVALID");
    });
  });

  it("a certificate bundle with its timestamps stripped is never verified", async () => {
    const stripped: BundleJson = structuredClone(bundle);
    stripped.verificationMaterial.timestampVerificationData = undefined;
    const json = JSON.parse(JSON.stringify(stripped)) as { verificationMaterial: Record<string, unknown> };
    assert.equal("timestampVerificationData" in json.verificationMaterial, false);
    // No transparency-log entry either: the bundle now carries no trusted time at all.
    const tlogEntries = json.verificationMaterial["tlogEntries"];
    assert.ok(tlogEntries === undefined || (Array.isArray(tlogEntries) && tlogEntries.length === 0));
    await assertRefused(json, policyWith({ san: SAN, issuer: ISSUER }), "SKILL_SIGNATURE_INVALID");
    // Refused for the missing timestamp, not by accident: @sigstore/verify with a threshold
    // of 0 would go on to check the chain with no time and fail some other way.
    assert.throws(
      () => verifySkillPackage(pkg.tarball, json, policyWith({ san: SAN, issuer: ISSUER }), root),
      (err: unknown) => {
        assert.ok(err instanceof RegistryError && err.code === "SKILL_SIGNATURE_INVALID");
        const cause = err.cause as { code?: unknown } | undefined;
        assert.equal(cause?.code, "TIMESTAMP_ERROR", err.message);
        return true;
      },
    );
  });

  it("a revoked identity is refused even though the policy trusts it", async () => {
    await assertRefused(bundle, policyWith({ san: SAN, issuer: ISSUER }, [SAN]), "SKILL_REVOKED");
    // Revoking some other SAN leaves this one installable.
    const { result } = install(bundle, policyWith({ san: SAN, issuer: ISSUER }, [EVIL_SAN]));
    assert.equal((await result).sha256, pkg.sha256);
  });

  it("a keyless bundle for another tarball is a digest mismatch", () => {
    const other = Buffer.concat([pkg.tarball, Buffer.from([0])]);
    assert.throws(() => verifySkillPackage(other, bundle, policyWith({ san: SAN, issuer: ISSUER }), root), isRegistryError("SKILL_DIGEST_MISMATCH"));
  });

  it("a mock-signed bundle does not verify against the public-good root", () => {
    assert.throws(() => verifySkillPackage(pkg.tarball, bundle, policyWith({ san: SAN, issuer: ISSUER }), publicGoodTrustedRoot()), isRegistryError("SKILL_SIGNATURE_INVALID"));
  });
});

describe("publicGoodTrustedRoot", () => {
  it("loads offline and names at least one certificate authority", () => {
    const root = publicGoodTrustedRoot();
    assert.ok(root.certificateAuthorities.length >= 1);
    for (const authority of root.certificateAuthorities) {
      assert.ok((authority.certChain?.certificates.length ?? 0) >= 1, "each CA carries a certificate chain");
      assert.ok(authority.certChain?.certificates.every((c) => c.rawBytes.length > 0));
    }
    assert.ok(root.ctlogs.length >= 1, "and a CT log to check SCTs against");
    assert.ok(root.tlogs.length + root.timestampAuthorities.length >= 1, "and something that timestamps");
  });
});
