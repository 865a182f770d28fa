import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseVerifierKey } from "../../audit/index.js";
import { assertCleanFailure, runCli } from "../support/cli.js";

describe("skillgate CLI: init and audit", () => {
  let dir: string;
  let home: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "sg-cli-"));
    home = join(dir, "state");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("init creates a private state dir and prints a C2SP verifier key", () => {
    const run = runCli(["--home", home, "--json", "init"]);
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout) as { vkey: string; home: string };
    assert.equal(parseVerifierKey(out.vkey).vkey, out.vkey);
    assert.equal(readFileSync(join(home, "keys", "audit.vkey"), "utf8").trim(), out.vkey);
    assert.equal(statSync(home).mode & 0o777, 0o700);
    assert.equal(statSync(join(home, "keys")).mode & 0o777, 0o700);
    for (const file of ["config.json", "keys/audit.skey"]) {
      assert.equal(statSync(join(home, file)).mode & 0o777, 0o600, file);
    }
    assert.ok(!run.stdout.includes("PRIVATE+KEY"), "the signing key must never be printed");
  });

  it("init again refuses with one line and a non-zero exit, keeping the key", () => {
    const before = readFileSync(join(home, "keys", "audit.skey"), "utf8");
    const run = runCli(["--home", home, "init"]);
    assertCleanFailure(run, "ALREADY_INITIALIZED");
    assert.equal(readFileSync(join(home, "keys", "audit.skey"), "utf8"), before);
  });

  it("SKILLGATE_HOME selects the state dir", () => {
    const other = join(dir, "via-env");
    const run = runCli(["init"], { env: { SKILLGATE_HOME: other } });
    assert.equal(run.status, 0, run.stderr);
    assert.ok(statSync(join(other, "config.json")).isFile());
  });

  it("demo records, proves, exports and catches tampering", () => {
    const run = runCli(["--home", home, "--json", "demo"]);
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout) as { ok: boolean; tamperDetected: { kind: string; seq: number }; skills: { name: string; installed: boolean }[] };
    assert.equal(out.ok, true);
    assert.deepEqual(
      out.skills.map((s) => [s.name, s.installed]),
      [["@demo/github-issues", true], ["@demo/notes", true], ["@demo/weather", true]],
    );
    assert.equal(out.tamperDetected.kind, "modified");
  });

  it("verify, show, prove and check-proof work end to end", () => {
    const vkey = join(home, "keys", "audit.vkey");
    const verify = runCli(["--home", home, "--json", "audit", "verify", "--vkey", vkey, "--checkpoint", join(home, "audit.checkpoints")]);
    assert.equal(verify.status, 0, verify.stdout);
    const report = JSON.parse(verify.stdout) as { ok: boolean; entries: number; keyPinned: boolean; trustedCheckpointsVerified: number };
    assert.equal(report.ok, true);
    assert.equal(report.keyPinned, true);
    assert.ok(report.entries >= 8);
    assert.ok(report.trustedCheckpointsVerified >= 1);

    const show = runCli(["--home", home, "--json", "audit", "show", "--kind", "touched"]);
    assert.equal(show.status, 0, show.stderr);
    const touched = JSON.parse(show.stdout) as { kind: string; seq: number }[];
    assert.ok(touched.length >= 1);
    assert.ok(touched.every((e) => e.kind === "touched"));

    const proofFile = join(dir, "entry.tlog-proof");
    const seq = String(touched[0]?.seq);
    assert.equal(runCli(["--home", home, "audit", "prove", seq, "--out", proofFile]).status, 0);
    const check = runCli(["--json", "audit", "check-proof", proofFile, "--vkey", vkey]);
    assert.equal(check.status, 0, check.stderr);
    assert.equal((JSON.parse(check.stdout) as { index: number }).index, Number(seq));

    const text = readFileSync(proofFile, "utf8");
    const forged = join(dir, "forged.tlog-proof");
    writeFileSync(forged, text.replace(/^index \d+$/m, `index ${Number(seq) + 1}`));
    assertCleanFailure(runCli(["audit", "check-proof", forged, "--vkey", vkey]), "AUDIT_BAD_PROOF");
    const otherKey = runCli(["--json", "init"], { env: { SKILLGATE_HOME: join(dir, "other") } });
    const wrongVkey = (JSON.parse(otherKey.stdout) as { vkey: string }).vkey;
    assertCleanFailure(runCli(["audit", "check-proof", proofFile, "--vkey", wrongVkey]), "AUDIT_BAD_PROOF");
  });

  it("reports bad arguments and bad state as one-line coded errors", () => {
    assertCleanFailure(runCli(["--home", home, "audit", "prove", "-1"]), "USAGE");
    assertCleanFailure(runCli(["--home", home, "audit", "prove", "99999999"]), "NOT_FOUND");
    assertCleanFailure(runCli(["--home", home, "audit", "show", "--kind", "bogus"]), "USAGE");
    assertCleanFailure(runCli(["--home", home, "audit", "redact", "xyz", "--reason", "because"]), "USAGE");
    assertCleanFailure(runCli(["--home", home, "no-such-command"]), "USAGE");
    assertCleanFailure(runCli(["--home", join(dir, "missing"), "audit", "export", "--out", join(dir, "x")]), "NOT_INITIALIZED");
    assertCleanFailure(runCli(["audit", "verify", join(dir, "not-an-export")]), "AUDIT_BAD_EXPORT");
    const json = runCli(["--home", home, "--json", "audit", "prove", "abc"]);
    assert.equal(json.status, 2);
    assert.deepEqual(JSON.parse(json.stdout), { ok: false, error: { code: "USAGE", message: "seq: must be a non-negative integer" } });
  });

  it("refuses a config that fails validation", () => {
    const broken = join(dir, "broken");
    assert.equal(runCli(["--home", broken, "init"]).status, 0);
    writeFileSync(join(broken, "config.json"), JSON.stringify({ version: 1, audit: { checkpointEvery: -5 } }));
    assertCleanFailure(runCli(["--home", broken, "audit", "checkpoint"]), "CONFIG_INVALID");
    writeFileSync(join(broken, "config.json"), "{not json");
    assertCleanFailure(runCli(["--home", broken, "audit", "checkpoint"]), "CONFIG_INVALID");
  });

  it("doctor reports the walls and flags a key or config readable by others", () => {
    const healthy = JSON.parse(runCli(["--home", home, "--json", "doctor"]).stdout) as { checks: { wall: string; active: boolean }[] };
    const perm = (checks: { wall: string; active: boolean }[], wall: string) => checks.find((c) => c.wall === wall)?.active;
    assert.equal(perm(healthy.checks, "permissions audit.skey"), true);
    assert.equal(perm(healthy.checks, "bind"), true);
    assert.ok(healthy.checks.some((c) => c.wall === "isolate (isolated-vm)" && c.active));
    chmodSync(join(home, "keys", "audit.skey"), 0o644);
    try {
      const loose = JSON.parse(runCli(["--home", home, "--json", "doctor"]).stdout) as { ok: boolean; checks: { wall: string; active: boolean }[] };
      assert.equal(perm(loose.checks, "permissions audit.skey"), false);
      assert.equal(loose.ok, false);
    } finally {
      chmodSync(join(home, "keys", "audit.skey"), 0o600);
    }
  });
});
