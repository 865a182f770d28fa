/**
 * Every CLI command, given missing, malformed and hostile arguments, must fail the way a
 * user-facing tool should: a non-zero exit, exactly one `skillgate: CODE: message` line on
 * stderr, no stack trace, with --json exactly one `{ok:false,error:{code,message}}` object
 * on stdout — and nothing half-written: the state dir and the working directory are
 * snapshotted (paths and sha256) before and after every failing command.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { assertCleanFailure, type CliRun, runCli } from "../support/cli.js";
import { CLI_PATH } from "../support/paths.js";

/** runCli, but asynchronous, so independent cases can run side by side. */
function runCliAsync(args: string[], options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], {
      cwd: options.cwd,
      env: { PATH: process.env.PATH, ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    // A hostile argument must never make a command hang; a stuck one is killed and fails the case.
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("error", reject);
    child.once("close", (status) => {
      clearTimeout(timer);
      resolveRun({ status, stdout, stderr });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}

// ---------------------------------------------------------------------------------------
// Hostile values
// ---------------------------------------------------------------------------------------

const TRAVERSAL = "../../etc/passwd";
const BIG = "A".repeat(100 * 1024);
/** Control characters but no NUL (argv cannot hold one) and no newline (see the test for that). */
const CONTROL = "\x01\x02\x07\b\t\x0b\x0c\r\x1b[31mred\x1b[0m\x1b]0;title\x07\x7f";
const SHELL = "$(rm -rf /)`id`;|&>x";
const UNICODE = "ünï©ødé\u202e\u200b🙂\uFEFF";
const HOSTILE = { TRAVERSAL, BIG, CONTROL, SHELL, UNICODE } as const;

const SHA = "a".repeat(64);

// ---------------------------------------------------------------------------------------
// Per-case sandboxes and snapshots
// ---------------------------------------------------------------------------------------

let base = "";
let template = "";
let closedPort = 0;
let busy: Server | undefined;
let busyPort = 0;
let caseCounter = 0;

interface CaseEnv {
  /** Everything the case may touch. */
  root: string;
  home: string;
  /** The command's working directory, deep enough that `../../x` stays inside root. */
  cwd: string;
}

/** A fresh copy of the initialized template home, with fixtures beside it. */
function freshEnv(): CaseEnv {
  const root = join(base, `case-${++caseCounter}`);
  const home = join(root, "home");
  const cwd = join(root, "w", "a", "b");
  cpSync(template, home, { recursive: true });
  mkdirSync(cwd, { recursive: true });
  writeFileSync(join(cwd, "file.txt"), "not a package, not a key, not a policy\n");
  mkdirSync(join(cwd, "empty-dir"));
  mkdirSync(join(cwd, "keys-out"));
  writeFileSync(join(cwd, "keys-out", "skill-signing.key.pem"), "an existing key that must not be overwritten\n", { mode: 0o600 });
  return { root, home, cwd };
}

function sha256(buf: Buffer): string {
  return createHash("sha256").update(buf).digest("hex");
}

/** Every path under dir with its type and, for files, a content hash. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (p: string) => {
    const st = lstatSync(p);
    const rel = relative(dir, p) || ".";
    if (st.isSymbolicLink()) out.set(rel, `link ${readlinkSync(p)}`);
    else if (st.isDirectory()) {
      out.set(rel, `dir ${(st.mode & 0o777).toString(8)}`);
      for (const name of readdirSync(p)) walk(join(p, name));
    } else if (st.isFile()) out.set(rel, `file ${(st.mode & 0o777).toString(8)} ${sha256(readFileSync(p))}`);
    else out.set(rel, "special");
  };
  walk(dir);
  return out;
}

/** The state the log may legitimately grow in (refused installs are audited); everything else must not change. */
const LOG_FILES = /^home\/(audit\.db|audit\.checkpoints|state\.db)(-journal|-wal|-shm)?$/;

function diffSnapshots(before: Map<string, string>, after: Map<string, string>, ignore?: RegExp): string[] {
  const changes: string[] = [];
  for (const key of new Set([...before.keys(), ...after.keys()])) {
    if (ignore?.test(key)) continue;
    const a = before.get(key);
    const b = after.get(key);
    if (a === b) continue;
    changes.push(a === undefined ? `+ ${key}` : b === undefined ? `- ${key}` : `~ ${key}`);
  }
  return changes.sort();
}

/** With --json: exactly one JSON object on stdout, `{ok:false, error:{code, message}}`, nothing else. */
function assertJsonFailure(run: CliRun, code: string): void {
  const lines = run.stdout.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, `expected one JSON line on stdout, got:\n${run.stdout.slice(0, 2000)}`);
  const value = JSON.parse(lines[0] as string) as { ok?: unknown; error?: { code?: unknown; message?: unknown } };
  assert.deepEqual(Object.keys(value).sort(), ["error", "ok"]);
  assert.equal(value.ok, false);
  assert.deepEqual(Object.keys(value.error ?? {}).sort(), ["code", "message"]);
  assert.equal(value.error?.code, code);
  assert.equal(typeof value.error?.message, "string");
  assert.ok((value.error?.message as string).length > 0, "empty error message");
}

interface Case {
  args: string[];
  code: string;
  /** Stdin for the command (secret values). */
  input?: string;
  /** A refused action the audit log records: only the log files may change. */
  audited?: boolean;
}

function describeArgs(args: string[]): string {
  return args.map((a) => (a.length > 40 ? `${JSON.stringify(a.slice(0, 20))}…(${a.length} chars)` : JSON.stringify(a))).join(" ");
}

/** Runs one case in a fresh home; checks the failure's shape and that nothing was written. */
async function runCase(c: Case, json = false): Promise<CliRun> {
  const env = freshEnv();
  const args = c.args.map((a) => a.replaceAll("{HOME}", env.home).replaceAll("{CLOSED}", String(closedPort)).replaceAll("{BUSY}", String(busyPort)));
  const label = `${json ? "--json " : ""}${describeArgs(args)}`;
  const before = snapshot(env.root);
  const run = await runCliAsync(["--home", env.home, ...(json ? ["--json"] : []), ...args], { cwd: env.cwd, input: c.input });
  try {
    assertCleanFailure(run, c.code);
    if (json) assertJsonFailure(run, c.code);
    else assert.equal(run.stdout, "", "a failing command printed to stdout");
    assert.notEqual(run.status, null, "the command was killed (hung)");
    const changes = diffSnapshots(before, snapshot(env.root), c.audited ? LOG_FILES : undefined);
    assert.deepEqual(changes, [], "the failing command changed files");
  } catch (err) {
    (err as Error).message = `${label}\n  exit ${run.status}\n  stderr: ${run.stderr.slice(0, 600)}\n  ${(err as Error).message}`;
    throw err;
  }
  if (c.audited) {
    // Whatever the refusal appended, the log still verifies.
    const verify = await runCliAsync(["--home", env.home, "audit", "verify"], { cwd: env.cwd });
    assert.equal(verify.status, 0, `${label}: audit verify after the refusal: ${verify.stdout}${verify.stderr}`);
  }
  rmSync(env.root, { recursive: true, force: true });
  return run;
}

type HostileKind = keyof typeof HOSTILE;

/** Hostile values for one argument position, all expected to fail with one code (by default: traversal, 100 KB, shell). */
function hostile(code: string, build: (value: string) => string[], only: HostileKind[] = ["TRAVERSAL", "BIG", "SHELL"], input?: string): Case[] {
  return only.map((k) => ({ args: build(HOSTILE[k]), code, ...(input === undefined ? {} : { input }) }));
}

// ---------------------------------------------------------------------------------------
// The command table: every command and subcommand from `--help`, with what it must say.
// ---------------------------------------------------------------------------------------

const COMMANDS: Record<string, Case[]> = {
  init: [
    { args: ["init"], code: "ALREADY_INITIALIZED" },
    { args: ["init", "extra"], code: "USAGE" },
  ],
  "hook add": [
    { args: ["hook", "add"], code: "USAGE" },
    { args: ["hook", "add", "ok", "extra"], code: "USAGE" },
    ...hostile("USAGE", (v) => ["hook", "add", v], ["TRAVERSAL", "CONTROL", "UNICODE"]),
  ],
  serve: [
    { args: ["serve", "--port", "99999"], code: "USAGE" },
    { args: ["serve", "--port", "-1"], code: "USAGE" },
    { args: ["serve", "--port", "abc"], code: "USAGE" },
    { args: ["serve", "--port"], code: "USAGE" },
    { args: ["serve", "--host", ""], code: "USAGE" },
    ...hostile("GATEWAY_PUBLIC_BIND", (v) => ["serve", "--host", v, "--port", "0"], ["SHELL", "TRAVERSAL"]),
    { args: ["serve", "--host", "127.0.0.1", "--port", "{BUSY}"], code: "GATEWAY_BIND_FAILED" },
  ],
  start: [
    { args: ["start", "--port", "99999"], code: "USAGE" },
    { args: ["start", "--port", "abc"], code: "USAGE" },
    { args: ["start", "--port", SHELL], code: "USAGE" },
    { args: ["start", "extra"], code: "USAGE" },
  ],
  chat: [
    { args: ["chat", "--message", "hi"], code: "GATEWAY_UNREACHABLE" },
    { args: ["chat", "--message", ""], code: "USAGE" },
    { args: ["chat", "--url", "not a url"], code: "USAGE" },
    { args: ["chat", "--url", "ws://127.0.0.1:{CLOSED}/ws"], code: "GATEWAY_UNREACHABLE" },
    ...hostile("GATEWAY_UNREACHABLE", (v) => ["chat", "--agent", v, "--session", v, "--message", v], ["CONTROL", "BIG"]),
  ],
  status: [
    { args: ["status"], code: "GATEWAY_UNREACHABLE" },
    { args: ["status", "--url", TRAVERSAL], code: "USAGE" },
    { args: ["status", "extra"], code: "USAGE" },
  ],
  "skill init": [
    { args: ["skill", "init"], code: "USAGE" },
    { args: ["skill", "init", "new-skill", "--name"], code: "USAGE" },
    ...hostile("USAGE", (v) => ["skill", "init", TRAVERSAL, "--name", v]),
  ],
  "skill pack": [
    { args: ["skill", "pack"], code: "USAGE" },
    { args: ["skill", "pack", "empty-dir"], code: "SKILL_BAD_MANIFEST" },
    { args: ["skill", "pack", "empty-dir", "--out", ""], code: "USAGE" },
  ],
  "skill sign": [
    { args: ["skill", "sign"], code: "USAGE" },
    { args: ["skill", "sign", "missing.tgz"], code: "USAGE" },
    { args: ["skill", "sign", "missing.tgz", "--key", "k.pem", "--keyless"], code: "USAGE" },
    { args: ["skill", "sign", "file.txt", "--key", "missing.pem"], code: "SKILL_BAD_PACKAGE" },
    ...hostile("SKILL_NOT_FOUND", (v) => ["skill", "sign", v, "--key", "missing.pem"], ["TRAVERSAL", "UNICODE"]),
  ],
  "skill schema": [{ args: ["skill", "schema", "extra"], code: "USAGE" }],
  "skill verify": [
    { args: ["skill", "verify"], code: "USAGE" },
    { args: ["skill", "verify", "file.txt"], code: "SKILL_UNSIGNED" },
    ...hostile("SKILL_NOT_FOUND", (v) => ["skill", "verify", v], ["TRAVERSAL", "CONTROL"]),
  ],
  "skill install": [
    { args: ["skill", "install"], code: "USAGE" },
    { args: ["skill", "install", "@a/b"], code: "USAGE" },
    { args: ["skill", "install", "@a/b", "--from", "missing-registry"], code: "SKILL_NOT_FOUND" },
    { args: ["skill", "install", "http://127.0.0.1:{CLOSED}/x.tgz"], code: "SKILL_BAD_REGISTRY" },
    { args: ["skill", "install", "file.txt"], code: "SKILL_UNSIGNED", audited: true },
    ...hostile("SKILL_NOT_FOUND", (v) => ["skill", "install", v], ["TRAVERSAL", "SHELL"]),
  ],
  "skill list": [{ args: ["skill", "list", "extra"], code: "USAGE" }],
  "skill show": [
    { args: ["skill", "show"], code: "USAGE" },
    { args: ["skill", "show", "@a/b"], code: "SKILL_NOT_INSTALLED" },
    ...hostile("USAGE", (v) => ["skill", "show", v], ["TRAVERSAL", "BIG", "UNICODE"]),
  ],
  "skill remove": [
    { args: ["skill", "remove", "@a/b"], code: "SKILL_NOT_INSTALLED" },
    ...hostile("USAGE", (v) => ["skill", "remove", v]),
  ],
  "skill run": [
    { args: ["skill", "run", "@a/b"], code: "USAGE" },
    { args: ["skill", "run", "@a/b", "tool"], code: "SKILL_NOT_INSTALLED" },
    { args: ["skill", "run", "@a/b", "tool", "--input", "{"], code: "USAGE" },
    { args: ["skill", "run", "@a/b", "tool", "--session", BIG], code: "USAGE" },
    ...hostile("USAGE", (v) => ["skill", "run", v, "tool"]),
  ],
  "keys generate": [
    { args: ["keys", "generate", "extra"], code: "USAGE" },
    { args: ["keys", "generate", "--out", ""], code: "USAGE" },
    { args: ["keys", "generate", "--out", "keys-out"], code: "KEY_EXISTS" },
    ...hostile("USAGE", (v) => ["keys", "generate", "--out", "new-keys", "--name", v]),
  ],
  "trust add": [
    { args: ["trust", "add"], code: "USAGE" },
    { args: ["trust", "add", "--scope", "@a/*"], code: "USAGE" },
    { args: ["trust", "add", "--scope", "@a/*", "--key", "missing.pem"], code: "USAGE" },
    { args: ["trust", "add", "--scope", "@a/*", "--key", "file.txt"], code: "SKILL_BAD_KEY" },
    { args: ["trust", "add", "--scope", "@a/*", "--identity", "x@example.com"], code: "USAGE" },
    { args: ["trust", "add", "--scope", "@a/*", "--identity-pattern", "(", "--issuer", "https://issuer.example"], code: "USAGE" },
    ...hostile("USAGE", (v) => ["trust", "add", "--scope", v, "--identity", "x@example.com", "--issuer", "https://issuer.example"]),
  ],
  "trust list": [{ args: ["trust", "list", "extra"], code: "USAGE" }],
  "trust revoke": [
    { args: ["trust", "revoke"], code: "USAGE" },
    { args: ["trust", "revoke", "--key", SHA, "--digest", SHA], code: "USAGE" },
    ...hostile("USAGE", (v) => ["trust", "revoke", "--digest", v]),
  ],
  "registry publish": [
    { args: ["registry", "publish", "missing.tgz"], code: "USAGE" },
    { args: ["registry", "publish", "missing.tgz", "--to", ""], code: "USAGE" },
    { args: ["registry", "publish", "file.txt", "--to", "registry"], code: "SKILL_UNSIGNED" },
    ...hostile("SKILL_NOT_FOUND", (v) => ["registry", "publish", v, "--to", "registry"], ["TRAVERSAL", "SHELL"]),
  ],
  "secret set": [
    { args: ["secret", "set", "Bad Ref!", "--hosts", "api.example.com", "--skills", "@a/*"], code: "USAGE", input: "value" },
    { args: ["secret", "set", "github", "--hosts", "api.example.com"], code: "USAGE", input: "value" },
    { args: ["secret", "set", "github", "--hosts", "", "--skills", "@a/*"], code: "USAGE", input: "value" },
    { args: ["secret", "set", "github", "--hosts", "api.example.com", "--skills", "@a/*"], code: "USAGE", input: "" },
    { args: ["secret", "set", "github", "--hosts", "api.example.com", "--skills", "not-a-scope"], code: "BAD_REQUEST", input: "value" },
    { args: ["secret", "set", "github", "--hosts", "api.example.com", "--skills", "@a/*", "--methods", "TRACE"], code: "BAD_REQUEST", input: "value" },
    ...hostile("USAGE", (v) => ["secret", "set", v, "--hosts", "api.example.com", "--skills", "@a/*"], ["TRAVERSAL", "BIG", "CONTROL"], "value"),
    ...hostile("BAD_REQUEST", (v) => ["secret", "set", "github", "--hosts", v, "--skills", "@a/*"], ["SHELL", "UNICODE"], "value"),
  ],
  "secret list": [{ args: ["secret", "list", "extra"], code: "USAGE" }],
  "secret rotate": [
    { args: ["secret", "rotate", "Bad Ref!"], code: "USAGE", input: "value" },
    { args: ["secret", "rotate"], code: "USAGE" },
    { args: ["secret", "rotate", "nosuch"], code: "SECRET_NOT_FOUND", input: "value" },
    { args: ["secret", "rotate", "nosuch"], code: "USAGE", input: "" },
    ...hostile("USAGE", (v) => ["secret", "rotate", v], ["TRAVERSAL", "BIG"], "value"),
  ],
  "secret rm": [
    { args: ["secret", "rm", "Bad Ref!"], code: "USAGE" },
    { args: ["secret", "rm", "nosuch"], code: "SECRET_NOT_FOUND" },
    ...hostile("USAGE", (v) => ["secret", "rm", v]),
  ],
  "policy check": [
    { args: ["policy", "check", "--file"], code: "USAGE" },
    { args: ["policy", "check", "--file", "missing.cedar"], code: "POLICY_INVALID" },
    { args: ["policy", "check", "--file", "file.txt"], code: "POLICY_INVALID" },
    { args: ["policy", "check", "--file", TRAVERSAL], code: "POLICY_INVALID" },
  ],
  "policy test": [
    { args: ["policy", "test"], code: "USAGE" },
    { args: ["policy", "test", "--request", '{"action":"x"}'], code: "USAGE" },
    { args: ["policy", "test", "--request", '{"action":"tool.call","resource":{"type":"Tool","id":"t"},"__proto__":{"x":1}}'], code: "USAGE" },
    { args: ["policy", "test", "--request", '{"action":"tool.call","resource":{"type":"Tool","id":"t"}}', "--file", "missing.cedar"], code: "POLICY_INVALID" },
    ...hostile("USAGE", (v) => ["policy", "test", "--request", v], ["BIG", "SHELL", "UNICODE"]),
  ],
  "approvals list": [
    { args: ["approvals", "list"], code: "GATEWAY_UNREACHABLE" },
    { args: ["approvals", "list", "--url", "not a url"], code: "USAGE" },
  ],
  "approvals allow": [
    { args: ["approvals", "allow"], code: "USAGE" },
    ...hostile("GATEWAY_UNREACHABLE", (v) => ["approvals", "allow", v], ["TRAVERSAL", "BIG"]),
  ],
  "approvals deny": [
    { args: ["approvals", "deny"], code: "USAGE" },
    ...hostile("GATEWAY_UNREACHABLE", (v) => ["approvals", "deny", v], ["UNICODE", "CONTROL"]),
  ],
  "audit verify": [
    { args: ["audit", "verify", "empty-dir"], code: "AUDIT_BAD_EXPORT" },
    { args: ["audit", "verify", "--db", "missing.db"], code: "AUDIT_STORAGE" },
    { args: ["audit", "verify", "--vkey", "garbage+vkey"], code: "AUDIT_BAD_KEY" },
    { args: ["audit", "verify", "--vkey", "missing-vkey-file"], code: "USAGE" },
    { args: ["audit", "verify", "--checkpoint", "file.txt"], code: "AUDIT_BAD_NOTE" },
    ...hostile("AUDIT_BAD_EXPORT", (v) => ["audit", "verify", v], ["TRAVERSAL", "SHELL"]),
  ],
  "audit export": [{ args: ["audit", "export"], code: "USAGE" }],
  "audit checkpoint": [{ args: ["audit", "checkpoint", "extra"], code: "USAGE" }],
  "audit prove": [
    { args: ["audit", "prove"], code: "USAGE" },
    { args: ["audit", "prove", "-1"], code: "USAGE" },
    { args: ["audit", "prove", "1e3"], code: "USAGE" },
    { args: ["audit", "prove", "99999999"], code: "NOT_FOUND" },
    ...hostile("USAGE", (v) => ["audit", "prove", v], ["BIG", "SHELL"]),
  ],
  "audit check-proof": [
    { args: ["audit", "check-proof", "file.txt"], code: "USAGE" },
    { args: ["audit", "check-proof", "missing.proof", "--vkey", "{HOME}/keys/audit.vkey"], code: "USAGE" },
    { args: ["audit", "check-proof", "file.txt", "--vkey", "{HOME}/keys/audit.vkey"], code: "AUDIT_BAD_PROOF" },
    ...hostile("USAGE", (v) => ["audit", "check-proof", v, "--vkey", "{HOME}/keys/audit.vkey"], ["TRAVERSAL", "UNICODE"]),
  ],
  "audit show": [
    { args: ["audit", "show", "--limit", "abc"], code: "USAGE" },
    { args: ["audit", "show", "--limit", "0"], code: "USAGE" },
    { args: ["audit", "show", "--from", "-1"], code: "USAGE" },
    { args: ["audit", "show", "--session", ""], code: "USAGE" },
    ...hostile("USAGE", (v) => ["audit", "show", "--kind", v]),
  ],
  "audit redact": [
    { args: ["audit", "redact", SHA], code: "USAGE" },
    { args: ["audit", "redact", SHA, "--reason", "   "], code: "USAGE" },
    { args: ["audit", "redact", SHA, "--reason", BIG], code: "USAGE" },
    { args: ["audit", "redact", SHA, "--reason", "a good reason"], code: "AUDIT_BLOB_NOT_FOUND" },
    ...hostile("USAGE", (v) => ["audit", "redact", v, "--reason", "a good reason"], ["TRAVERSAL", "SHELL"]),
  ],
  doctor: [{ args: ["doctor", "extra"], code: "USAGE" }],
  demo: [{ args: ["demo", "--bogus"], code: "USAGE" }],
  "(top level)": [
    { args: ["bogus"], code: "USAGE" },
    { args: [BIG], code: "USAGE" },
    { args: ["audit", SHELL], code: "USAGE" },
  ],
};

const PARALLEL = Math.max(2, Math.min(4, availableParallelism()));

describe("CLI: every command refuses malformed, missing and hostile arguments cleanly", { concurrency: PARALLEL }, () => {
  before(async () => {
    base = mkdtempSync(join(tmpdir(), "sg-cli-hostile-"));
    template = join(base, "template");
    const init = runCli(["--home", template, "init"]);
    assert.equal(init.status, 0, init.stderr);
    // Settle the state dir: the first open of the log signs a checkpoint and the first vault
    // use creates its tables; after that a refused command has no reason to write anything.
    for (const args of [["audit", "checkpoint"], ["secret", "list"]]) {
      const run = runCli(["--home", template, ...args]);
      assert.equal(run.status, 0, run.stderr);
    }
    // A port nothing listens on, so "no gateway running" never depends on the host's 18789.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    closedPort = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const config = JSON.parse(readFileSync(join(template, "config.json"), "utf8")) as { gateway: { port: number } };
    config.gateway.port = closedPort;
    writeFileSync(join(template, "config.json"), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    busy = createServer();
    await new Promise<void>((r) => busy?.listen(0, "127.0.0.1", r));
    busyPort = (busy.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise((r) => (busy ? busy.close(r) : r(undefined)));
    rmSync(base, { recursive: true, force: true });
  });

  for (const [command, cases] of Object.entries(COMMANDS)) {
    // The first case of every command runs with --json: one {ok:false,error} object on stdout.
    it(`${command}: ${cases.length} bad invocations fail with one coded line (the first with --json) and write nothing`, async () => {
      for (const [i, c] of cases.entries()) await runCase(c, i === 0);
    });
  }

  it("global options: a missing, empty, traversing or unusable --home fails cleanly and creates nothing", async () => {
    const env = freshEnv();
    const before = snapshot(env.root);
    const runs: [CliRun, string][] = [
      [await runCliAsync(["--home"], { cwd: env.cwd }), "USAGE"],
      [await runCliAsync(["--home", "", "audit", "show"], { cwd: env.cwd }), "USAGE"],
      [await runCliAsync(["--home", TRAVERSAL, "skill", "list"], { cwd: env.cwd }), "NOT_INITIALIZED"],
      [await runCliAsync(["--home", "missing-home", "audit", "show"], { cwd: env.cwd }), "AUDIT_STORAGE"],
      [await runCliAsync(["--home", SHELL, "policy", "check"], { cwd: env.cwd }), "NOT_INITIALIZED"],
      [await runCliAsync(["--json", "--home", UNICODE, "skill", "show", "@a/b"], { cwd: env.cwd }), "NOT_INITIALIZED"],
    ];
    for (const [run, code] of runs) assertCleanFailure(run, code);
    assertJsonFailure(runs[5]?.[0] as CliRun, "NOT_INITIALIZED");
    assert.deepEqual(diffSnapshots(before, snapshot(env.root)), [], "a failing command created or changed files");
    rmSync(env.root, { recursive: true, force: true });
  });

  it("a bare command group or `help <unknown>` prints help and exits non-zero, writing nothing", async () => {
    const env = freshEnv();
    const before = snapshot(env.root);
    for (const args of [[], ["skill"], ["secret"], ["audit"], ["help", "bogus"]]) {
      const run = await runCliAsync(["--home", env.home, ...args], { cwd: env.cwd });
      assert.notEqual(run.status, 0, `${args.join(" ")}: exit 0`);
      assert.notEqual(run.status, null);
      assert.match(run.stderr, /^Usage: skillgate/, `${args.join(" ")}: no usage text`);
      assert.doesNotMatch(run.stderr, /\bat .+:\d+:\d+/, "stack trace");
    }
    assert.deepEqual(diffSnapshots(before, snapshot(env.root)), []);
    rmSync(env.root, { recursive: true, force: true });
  });

  it("KEY_EXISTS leaves the existing key and writes no public key beside it", async () => {
    const env = freshEnv();
    const keyBefore = readFileSync(join(env.cwd, "keys-out", "skill-signing.key.pem"), "utf8");
    const run = await runCliAsync(["--home", env.home, "keys", "generate", "--out", "keys-out"], { cwd: env.cwd });
    assertCleanFailure(run, "KEY_EXISTS");
    assert.equal(readFileSync(join(env.cwd, "keys-out", "skill-signing.key.pem"), "utf8"), keyBefore);
    assert.deepEqual(readdirSync(join(env.cwd, "keys-out")), ["skill-signing.key.pem"]);
    rmSync(env.root, { recursive: true, force: true });
  });

  // --- Production bugs found earlier, each exposed by one test ---------------------------

  it(
    "commander's usage errors (typos with suggestions, arguments with newlines) are one stderr line",
    async () => {
      for (const args of [["skill", "instal", "x"], ["start", "--host", "127.0.0.1"], ["bo\ngus"], ["--x\nskillgate: OK: forged"]]) await runCase({ args, code: "USAGE" });
    },
  );

  it(
    "a --url with a non-WebSocket scheme is a USAGE error, not INTERNAL",
    async () => {
      for (const args of [["status", "--url", "file:///etc/passwd"], ["chat", "--url", "ftp://example.com/ws", "--message", "hi"], ["approvals", "list", "--url", "javascript:alert(1)"]]) {
        await runCase({ args, code: "USAGE" });
      }
    },
  );

  it(
    "missing, wrong-kind and over-long file arguments give a domain code, never a raw errno or driver code",
    async () => {
      const raw = /^(E[A-Z]+|SQLITE_[A-Z_]+|INTERNAL)$/;
      const env = freshEnv();
      const cases: string[][] = [
        ["skill", "pack", "missing-dir"],
        ["skill", "pack", "file.txt"],
        ["skill", "init", "file.txt"],
        ["skill", "run", "missing-dir", "tool", "--dev"],
        ["audit", "verify", "--checkpoint", "missing.checkpoints"],
        ["audit", "verify", "--checkpoint", "empty-dir"],
        ["audit", "verify", "--db", "file.txt"],
        ["audit", "export", "--out", "file.txt"],
        ["skill", "verify", BIG],
      ];
      const failures: string[] = [];
      for (const args of [...cases.map((a) => ["--home", env.home, ...a]), ["--home", BIG, "trust", "list"], ["--home", "file.txt", "trust", "list"]]) {
        const run = await runCliAsync(args, { cwd: env.cwd });
        const lines = run.stderr.trimEnd().split("\n");
        const code = /^skillgate: ([A-Z0-9_]+): /.exec(lines.at(-1) ?? "")?.[1] ?? "(none)";
        if (run.status === 0 || lines.length !== 1 || raw.test(code)) failures.push(`${describeArgs(args.slice(2))} → ${code}${lines.length !== 1 ? ` (${lines.length} stderr lines)` : ""}`);
      }
      rmSync(env.root, { recursive: true, force: true });
      assert.deepEqual(failures, []);
    },
  );

  it(
    "audit export --out an existing directory is refused cleanly and writes nothing into it",
    async () => {
      const env = freshEnv();
      const first = await runCliAsync(["--home", env.home, "audit", "export", "--out", "done-export"], { cwd: env.cwd });
      assert.equal(first.status, 0, first.stderr);
      mkdirSync(join(env.cwd, "partial"));
      writeFileSync(join(env.cwd, "partial", "export.json"), "{}\n");
      for (const out of ["done-export", "partial"]) {
        const before = snapshot(join(env.cwd, out));
        const run = await runCliAsync(["--home", env.home, "audit", "export", "--out", out], { cwd: env.cwd });
        assert.ok(run.status !== 0 && run.status !== null, `${out}: exit ${run.status}`);
        const lines = run.stderr.trimEnd().split("\n");
        assert.equal(lines.length, 1, `${out}: stderr is not one line:\n${run.stderr.slice(0, 1500)}`);
        assert.match(lines[0] as string, /^skillgate: (USAGE|AUDIT_[A-Z_]+): /, out);
        assert.deepEqual(diffSnapshots(before, snapshot(join(env.cwd, out))), [], `${out}: the refused export wrote into the directory`);
      }
      rmSync(env.root, { recursive: true, force: true });
    },
  );

  it(
    "--json with a bare command group still answers with one JSON object",
    async () => {
      const env = freshEnv();
      const run = await runCliAsync(["--home", env.home, "--json", "skill"], { cwd: env.cwd });
      rmSync(env.root, { recursive: true, force: true });
      assert.notEqual(run.status, 0);
      assertJsonFailure(run, "USAGE");
    },
  );
});
