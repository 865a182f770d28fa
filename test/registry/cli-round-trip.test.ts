import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { assertCleanFailure, runCli } from "../support/cli.js";
import { repoRoot } from "../support/paths.js";

/** The author and operator paths as a user walks them: real CLI, real files, real keys. */
describe("skill author → operator round trip through the CLI", () => {
  let dir: string;
  let home: string;
  const sg = (...args: string[]) => runCli(["--home", home, ...args], { cwd: dir });
  const ok = (...args: string[]) => {
    const run = sg(...args);
    assert.equal(run.status, 0, `skillgate ${args.join(" ")} failed: ${run.stderr}`);
    return run.stdout;
  };
  const json = (...args: string[]): Record<string, unknown> => JSON.parse(ok("--json", ...args)) as Record<string, unknown>;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "sg-skill-cli-"));
    home = join(dir, "home");
    ok("init");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("scaffolds a skill whose own test passes, then packs it deterministically", () => {
    ok("skill", "init", "hello", "--name", "@acme/hello");
    const test = spawnSync(process.execPath, ["--test", "test/"], { cwd: join(dir, "hello"), encoding: "utf8" });
    assert.equal(test.status, 0, test.stdout + test.stderr);
    const first = json("skill", "pack", "hello");
    const bytes = readFileSync(join(dir, "acme-hello-0.1.0.tgz"));
    const second = json("skill", "pack", "hello");
    assert.equal(first.sha256, second.sha256);
    assert.deepEqual(readFileSync(join(dir, "acme-hello-0.1.0.tgz")), bytes);
  });

  it("generates a 0600 key, signs, and refuses to verify until the key is trusted", () => {
    const keys = json("keys", "generate", "--out", "keys");
    assert.equal(statSync(join(dir, "keys", "skill-signing.key.pem")).mode & 0o777, 0o600);
    assertCleanFailure(sg("keys", "generate", "--out", "keys"), "KEY_EXISTS");
    assertCleanFailure(sg("skill", "sign", "acme-hello-0.1.0.tgz"), "USAGE");
    // Outside CI there is no ambient OIDC identity: keyless signing fails cleanly, offline.
    assertCleanFailure(sg("skill", "sign", "acme-hello-0.1.0.tgz", "--keyless"), "SKILL_SIGN_FAILED");
    assert.equal(existsSync(join(dir, "acme-hello-0.1.0.tgz.sigstore.json")), false);
    ok("skill", "sign", "acme-hello-0.1.0.tgz", "--key", "keys/skill-signing.key.pem");
    assert.ok(existsSync(join(dir, "acme-hello-0.1.0.tgz.sigstore.json")));
    assertCleanFailure(sg("skill", "verify", "acme-hello-0.1.0.tgz"), "SKILL_UNTRUSTED_SIGNER");
    ok("trust", "add", "--key", "keys/skill-signing.pub.pem", "--scope", "@acme/*");
    const verified = json("skill", "verify", "acme-hello-0.1.0.tgz");
    assert.equal(verified.name, "@acme/hello");
    assert.deepEqual(verified.signer, { type: "key", keyId: keys.keyId, publisher: "acme" });
  });

  it("refuses a trusted key outside its scope", () => {
    ok("skill", "init", "other", "--name", "@other/thing");
    ok("skill", "pack", "other");
    ok("skill", "sign", "other-thing-0.1.0.tgz", "--key", "keys/skill-signing.key.pem");
    assertCleanFailure(sg("skill", "install", "other-thing-0.1.0.tgz"), "SKILL_OUT_OF_SCOPE");
  });

  it("installs into the content-addressed store, records it in the lockfile and the audit log", () => {
    const installed = json("skill", "install", "acme-hello-0.1.0.tgz");
    const sha = installed.sha256 as string;
    const stored = join(home, "skills", sha);
    assert.deepEqual(readdirSync(stored).sort(), ["SKILL.md", "index.js", "skill.json", "test"]);
    assert.equal(statSync(join(stored, "index.js")).mode & 0o222, 0, "stored files are read-only");
    assert.equal(statSync(join(home, "skills.lock.json")).mode & 0o777, 0o600);
    const list = json("skill", "list");
    assert.deepEqual(list.skills, [{ name: "@acme/hello", version: "0.1.0", sha256: sha, publisher: "acme", disabled: null }]);
    const shown = ok("skill", "show", "@acme/hello");
    assert.match(shown, /greet \(read\)/);
    const audit = ok("audit", "show", "--kind", "system");
    assert.match(audit, /skill\.installed/);
    assert.match(audit, /skill\.install_refused.*SKILL_OUT_OF_SCOPE/);
  });

  it("upgrades through a registry only with approval of the capability diff", () => {
    ok("registry", "publish", "acme-hello-0.1.0.tgz", "--to", "registry");
    const manifestPath = join(dir, "hello", "skill.json");
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { version: string; capabilities: { net: unknown[] } };
    manifest.version = "0.2.0";
    manifest.capabilities.net = [{ host: "api.example.com", methods: ["GET"], paths: ["/v1/"] }];
    writeFileSync(manifestPath, JSON.stringify(manifest));
    ok("skill", "pack", "hello");
    ok("skill", "sign", "acme-hello-0.2.0.tgz", "--key", "keys/skill-signing.key.pem");
    ok("registry", "publish", "acme-hello-0.2.0.tgz", "--to", "registry");
    const refused = sg("skill", "install", "@acme/hello", "--from", "registry");
    assertCleanFailure(refused, "SKILL_CAPABILITIES_CHANGED");
    assert.match(refused.stderr, /\+ net GET api\.example\.com:443 \/v1\//);
    const upgraded = json("skill", "install", "@acme/hello", "--from", "registry", "--approve-capabilities");
    assert.equal(upgraded.version, "0.2.0");
    assertCleanFailure(sg("skill", "install", "@acme/hello@0.1.0", "--from", "registry"), "SKILL_DOWNGRADE");
    assert.equal((json("skill", "install", "@acme/hello@0.1.0", "--from", "registry", "--allow-downgrade") as { version: string }).version, "0.1.0");
  });

  it("revoking the key disables the installed skill and blocks installs", () => {
    const { keyId } = JSON.parse(readFileSync(join(home, "skills.lock.json"), "utf8")).skills["@acme/hello"].signer as { keyId: string };
    ok("trust", "revoke", "--key", keyId);
    const list = json("skill", "list") as { skills: { disabled: string | null }[] };
    assert.equal(list.skills[0]?.disabled, "signing key revoked");
    assertCleanFailure(sg("skill", "install", "acme-hello-0.2.0.tgz", "--approve-capabilities"), "SKILL_REVOKED");
  });

  it("removes a skill and its files, audited", () => {
    const sha = (json("skill", "list") as { skills: { sha256: string }[] }).skills[0]?.sha256 as string;
    ok("skill", "remove", "@acme/hello");
    assert.equal(existsSync(join(home, "skills", sha)), false);
    assert.deepEqual((json("skill", "list") as { skills: unknown[] }).skills, []);
    assert.match(ok("audit", "show", "--kind", "system"), /skill\.removed/);
    assertCleanFailure(sg("skill", "remove", "@acme/hello"), "SKILL_NOT_INSTALLED");
    assert.equal(sg("audit", "verify").status, 0);
  });

  it("installs the repository's example skills from a registry", () => {
    cpSync(join(repoRoot(), "examples", "skills", "notes"), join(dir, "notes"), { recursive: true });
    ok("skill", "pack", "notes");
    ok("keys", "generate", "--out", "demo-keys");
    ok("skill", "sign", "demo-notes-1.0.0.tgz", "--key", "demo-keys/skill-signing.key.pem");
    ok("trust", "add", "--key", "demo-keys/skill-signing.pub.pem", "--scope", "@demo/notes", "--name", "demo");
    const installed = json("skill", "install", "demo-notes-1.0.0.tgz");
    assert.equal(installed.name, "@demo/notes");
    assert.match(ok("skill", "show", "@demo/notes"), /fs read\+write notes\//);
  });
});
