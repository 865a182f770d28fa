import { readFile, writeFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import type { AuditLog } from "../../../audit/index.js";
import {
  type CapabilityChange,
  describeSigner,
  type Manifest,
  manifestJsonSchema,
  checkPackageContents,
  packageDigest,
  packSkill,
  readLockfile,
  readPackage,
  readPackageAndBundle,
  revocationOf,
  signSkillKeyless,
  signSkillWithKey,
} from "../../../skills-registry/index.js";
import { openAuditLog } from "../../audit-log.js";
import { SkillgateError } from "../../errors.js";
import { scaffoldSkill } from "../../skills/scaffold.js";
import { loadDevSkill, loadInstalledSkill, runSkillOnce } from "../../skills/run-skill.js";
import { createLogger } from "../../logger.js";
import { isLoopback } from "../../gateway/server.js";
import { fetchPackage, inspectPackage, installAudited, removeAudited, trustedRootFor } from "../../skills/skill-service.js";
import { type CliContext, contextOf, parseArg } from "../context.js";

const SkillNameArg = z.string().regex(/^@[a-z0-9][a-z0-9._-]*\/[a-z0-9][a-z0-9._-]*$/, "must be a scoped name like @acme/weather");

/** The capabilities a manifest asks for, one readable line each. */
export function capabilityLines(m: Manifest): string[] {
  const lines: string[] = [];
  for (const n of m.capabilities.net) lines.push(`net ${n.methods.join(",")} ${n.host}:${n.port} ${n.paths.join(" ")}`);
  for (const f of m.capabilities.fs) lines.push(`fs ${f.access.join("+")} ${f.path}`);
  for (const c of m.capabilities.credentials) lines.push(`credential cred:${c.ref} → ${c.hosts.join(", ")} (${c.inject.type})`);
  if (m.capabilities.kv) lines.push(`kv up to ${m.capabilities.kv.maxKeys} keys / ${m.capabilities.kv.maxBytes} bytes`);
  if (m.capabilities.messages) lines.push(`messages to ${m.capabilities.messages.to.join(", ")}`);
  lines.push(`limits ${m.limits.memoryMb} MB, ${m.limits.cpuMs} ms CPU, ${m.limits.wallMs} ms wall, ${m.limits.outputBytes} B output`);
  return lines;
}

async function withAudit<T>(cli: CliContext, work: (log: AuditLog) => Promise<T>): Promise<T> {
  const log = await openAuditLog(cli.paths, await cli.config());
  try {
    return await work(log);
  } finally {
    await log.close();
  }
}

function registerAuthorCommands(skill: Command): void {
  skill
    .command("init")
    .description("scaffold a new skill (manifest, SKILL.md, code, a test) that packs, signs and runs as generated")
    .argument("<dir>", "directory to create")
    .option("--name <@scope/name>", "skill name", "@local/hello")
    .action(async (dir: string, raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const { name } = parseArg(z.object({ name: SkillNameArg }), raw, "--name");
      const files = await scaffoldSkill(resolve(dir), name);
      cli.print([`Created ${name} in ${dir}:`, ...files.map((f) => `  ${f}`), `Next: skillgate skill pack ${dir}`], { name, dir, files });
    });
  skill
    .command("pack")
    .description("build a deterministic <name>-<version>.tgz from a skill directory")
    .argument("<dir>", "skill directory")
    .option("--out <dir>", "where to write the package", ".")
    .action(async (dir: string, raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const { out } = parseArg(z.object({ out: z.string().min(1) }), raw, "options");
      const packed = await packSkill(dir);
      const path = join(out, packed.fileName);
      await writeFile(path, packed.tarball);
      cli.print([`Packed ${packed.manifest.name}@${packed.manifest.version} → ${path}`, `sha256 ${packed.sha256}`, `${packed.files.length} files`], {
        name: packed.manifest.name,
        version: packed.manifest.version,
        path,
        sha256: packed.sha256,
        files: packed.files,
      });
    });
  skill
    .command("sign")
    .description("sign a package: writes PKG.sigstore.json (DSSE in-toto statement binding name, version and sha256)")
    .argument("<pkg>", "package .tgz")
    .option("--key <pem>", "ECDSA P-256 private key PEM (from 'skillgate keys generate')")
    .option("--keyless", "sign with Sigstore Fulcio/Rekor using the ambient CI OIDC identity")
    .action(async (pkg: string, raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const o = parseArg(
        z.object({ key: z.string().optional(), keyless: z.boolean().optional() }).refine((v) => (v.key !== undefined) !== (v.keyless === true), "give exactly one of --key or --keyless"),
        raw,
        "options",
      );
      const { tarball } = await readPackageAndBundle(pkg);
      const packed = await inspectUnsigned(tarball);
      const subject = { name: packed.name, version: packed.version, sha256: packed.sha256 };
      const bundle = o.key !== undefined ? await signSkillWithKey(subject, await readFile(o.key, "utf8")) : await signSkillKeyless(subject);
      const out = `${pkg}.sigstore.json`;
      await writeFile(out, `${JSON.stringify(bundle)}\n`);
      cli.print(`Signed ${subject.name}@${subject.version} (sha256 ${subject.sha256}) → ${out}`, { ...subject, bundle: out });
    });
  skill
    .command("schema")
    .description("print the JSON Schema of skill.json (for editors)")
    .action(() => {
      process.stdout.write(`${JSON.stringify(manifestJsonSchema(), null, 2)}\n`);
    });
}

/** Name, version and digest of a package we are about to sign (its own contents, unverified). */
async function inspectUnsigned(tarball: Buffer): Promise<{ name: string; version: string; sha256: string }> {
  const manifest = checkPackageContents(await readPackage(tarball));
  return { name: manifest.name, version: manifest.version, sha256: packageDigest(tarball) };
}

function changeLines(changes: CapabilityChange[]): string[] {
  return changes.length === 0 ? ["  (no new capabilities)"] : changes.map((c) => `  ${c.text}`);
}

function registerOperatorCommands(skill: Command): void {
  skill
    .command("verify")
    .description("verify a package against the trust policy; print signer, digest and capabilities")
    .argument("<pkg>", "package .tgz (its bundle is PKG.sigstore.json)")
    .action(async (pkg: string, _raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const { trust } = await cli.config();
      const { tarball, bundleJson } = await readPackageAndBundle(pkg);
      const v = await inspectPackage(tarball, bundleJson, trust, await trustedRootFor(cli.paths, trust));
      const signer = v.signer.type === "key" ? `key ${v.signer.keyId}` : `${v.signer.san} (issuer ${v.signer.issuer})`;
      cli.print(
        [
          `Verified ${v.subject.name}@${v.subject.version}`,
          `  signer:    ${signer}, publisher '${v.signer.publisher}'`,
          `  sha256:    ${v.sha256}`,
          "  capabilities:",
          ...capabilityLines(v.manifest).map((l) => `    ${l}`),
        ],
        { ok: true, name: v.subject.name, version: v.subject.version, sha256: v.sha256, signer: v.signer, capabilities: v.manifest.capabilities, limits: v.manifest.limits, tools: v.manifest.tools.map((t) => ({ name: t.name, effect: t.effect })) },
      );
    });
  skill
    .command("install")
    .description("verify, then install a package (path, URL, or @scope/name[@version] with --from)")
    .argument("<target>", "package path or URL, or a skill reference")
    .option("--from <registry>", "registry directory or URL")
    .option("--approve-capabilities", "accept the new capabilities an upgrade asks for")
    .option("--allow-downgrade", "install an older version over a newer one")
    .action(async (target: string, raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const o = parseArg(z.object({ from: z.string().optional(), approveCapabilities: z.boolean().optional(), allowDowngrade: z.boolean().optional() }), raw, "options");
      if (target.startsWith("@") && o.from === undefined) throw new SkillgateError("USAGE", "installing by name needs --from <registry>");
      const { trust } = await cli.config();
      const fetched = await fetchPackage(target, o.from);
      const result = await withAudit(cli, (log) =>
        installAudited(cli.paths, trust, log, { ...fetched, approveCapabilities: o.approveCapabilities, allowDowngrade: o.allowDowngrade, actor: "operator:cli" }),
      );
      const lines = result.unchanged
        ? [`${result.name}@${result.version} is already installed (sha256 ${result.sha256})`]
        : [
            `Installed ${result.name}@${result.version}`,
            `  signer:  ${result.signer.type === "key" ? `key ${result.signer.keyId.slice(0, 16)}…` : result.signer.san} (publisher '${result.signer.publisher}')`,
            `  sha256:  ${result.sha256}`,
            ...(result.replaced ? [`  replaced ${result.replaced.version}; new capabilities:`, ...changeLines(result.replaced.changes)] : []),
          ];
      cli.print(lines, { name: result.name, version: result.version, sha256: result.sha256, signer: result.signer, unchanged: result.unchanged, replaced: result.replaced ?? null });
    });
  skill
    .command("list")
    .description("installed skills")
    .action(async (_raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const { trust } = await cli.config();
      const lock = await readLockfile(cli.paths.lockfile);
      const rows = Object.entries(lock.skills).map(([name, s]) => ({ name, version: s.version, sha256: s.sha256, publisher: s.signer.publisher, disabled: revocationOf(s, trust) ?? null }));
      cli.print(
        rows.length ? rows.map((r) => `${r.name}@${r.version}  ${r.sha256.slice(0, 12)}  ${r.publisher}${r.disabled ? `  DISABLED: ${r.disabled}` : ""}`) : "No skills installed.",
        { skills: rows },
      );
    });
  skill
    .command("show")
    .description("one installed skill: signer, digest, tools and capabilities")
    .argument("<name>", "@scope/name")
    .action(async (nameArg: string, _raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const name = parseArg(SkillNameArg, nameArg, "name");
      const { trust } = await cli.config();
      const s = (await readLockfile(cli.paths.lockfile)).skills[name];
      if (!s) throw new SkillgateError("SKILL_NOT_INSTALLED", `${name} is not installed`);
      const disabled = revocationOf(s, trust);
      cli.print(
        [
          `${name}@${s.version}${disabled ? `  (DISABLED: ${disabled})` : ""}`,
          `  ${s.manifest.description}`,
          `  signer:  ${describeSigner(s.signer.type === "key" ? { type: "key", keyId: s.signer.keyId } : { type: "keyless", identity: { san: s.signer.san, issuer: s.signer.issuer } })}, publisher '${s.signer.publisher}'`,
          `  sha256:  ${s.sha256}`,
          `  source:  ${s.source}`,
          "  tools:",
          ...s.manifest.tools.map((t) => `    ${t.name} (${t.effect}): ${t.description}`),
          "  capabilities:",
          ...capabilityLines(s.manifest).map((l) => `    ${l}`),
        ],
        { name, ...s, disabled: disabled ?? null },
      );
    });
  skill
    .command("remove")
    .description("uninstall a skill (audited)")
    .argument("<name>", "@scope/name")
    .action(async (nameArg: string, _raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const name = parseArg(SkillNameArg, nameArg, "name");
      const removed = await withAudit(cli, (log) => removeAudited(cli.paths, log, name, "operator:cli"));
      cli.print(`Removed ${name}@${removed.version}`, { name, version: removed.version, sha256: removed.sha256 });
    });
}

const RunOptions = z.object({
  input: z.string().default("{}"),
  session: z.string().min(1).max(512).optional(),
  dev: z.boolean().optional(),
});

function registerRunCommand(skill: Command): void {
  skill
    .command("run")
    .description("invoke one tool of an installed skill in the sandbox (no model); --dev DIR runs an unsigned skill directory")
    .argument("<skill>", "@scope/name of an installed skill, or a directory with --dev")
    .argument("<tool>", "tool name")
    .option("--input <json>", "tool input as JSON", "{}")
    .option("--session <key>", "session key (its workspace and isolate)")
    .option("--dev", "run an unsigned local skill directory (authors only; never on a public bind)")
    .action(async (target: string, tool: string, raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const o = parseArg(RunOptions, raw, "options");
      let input: unknown;
      try {
        input = JSON.parse(o.input);
      } catch {
        throw new SkillgateError("USAGE", "--input must be JSON");
      }
      const config = await cli.config();
      let skillToRun;
      if (o.dev) {
        if (!isLoopback(config.gateway.host)) {
          throw new SkillgateError("DEV_REFUSED", `--dev is refused: the gateway config binds ${config.gateway.host}, not loopback`);
        }
        // Warn only about a directory that loaded: a failed load is one error line, nothing else.
        skillToRun = await loadDevSkill(target);
        process.stderr.write(`skillgate: WARNING: running UNSIGNED skill directory ${target} (--dev). It is sandboxed, but nobody vouched for it.\n`);
      } else {
        skillToRun = await loadInstalledSkill(cli.paths, config.trust, parseArg(SkillNameArg, target, "skill"));
      }
      const logger = createLogger({ level: config.log.level === "info" ? "warn" : config.log.level });
      const session = o.session ?? `hook:${randomUUID()}`;
      const result = await withAudit(cli, (audit) =>
        runSkillOnce({ paths: cli.paths, sandbox: config.sandbox, audit, logger, skill: skillToRun, tool, input, session, actor: o.dev ? "operator:cli:dev" : "operator:cli", dev: o.dev ?? false }),
      );
      cli.print(JSON.stringify(result.output, null, 2), { ok: true, output: result.output, stats: result.stats, session });
    });
}

export function registerSkill(program: Command): void {
  const skill = program.command("skill").description("author, sign, verify and install skills");
  registerAuthorCommands(skill);
  registerOperatorCommands(skill);
  registerRunCommand(skill);
}
