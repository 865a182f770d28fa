import { readFile, writeFile } from "node:fs/promises";
import { Command } from "commander";
import { z } from "zod";
import {
  AuditReader,
  ENTRY_KINDS,
  ExportSource,
  formatTlogProof,
  type LogSource,
  type NoteVerifierKey,
  parseVerifierKey,
  readCheckpointFile,
  verifyLog,
  verifyTlogProof,
  type VerifyReport,
} from "../../../audit/index.js";
import { openAuditLog } from "../../audit-log.js";
import { SkillgateError } from "../../errors.js";
import { readTextIfExists } from "../../state/files.js";
import { type CliContext, contextOf, NonNegativeIntArg, parseArg, PositiveIntArg } from "../context.js";

/** `--vkey` takes the key text itself or a file holding it. */
async function loadVkey(value: string): Promise<NoteVerifierKey> {
  const text = value.includes("+") ? value : ((await readTextIfExists(value)) ?? "");
  if (text === "") throw new SkillgateError("USAGE", `--vkey: ${value} is neither a verifier key nor a readable file`);
  return parseVerifierKey(text.trim());
}

function describeReport(report: VerifyReport): string[] {
  if (!report.ok && report.failure) {
    const f = report.failure;
    return [`FAILED: ${f.kind} at seq ${f.seq}: ${f.message}`];
  }
  const lines = [
    `OK: ${report.entries} entries, root ${report.rootHex}`,
    `  ${report.checkpointsVerified} signed checkpoints in the log verified; signed through seq ${report.signedSize - 1}`,
  ];
  if (report.trustedCheckpointsVerified > 0) {
    lines.push(`  ${report.trustedCheckpointsVerified} trusted checkpoints from --checkpoint matched`);
  }
  if (report.entries > report.signedSize) {
    lines.push(`  ${report.entries - report.signedSize} newest entries are chained but not yet covered by a signature`);
  }
  for (const r of report.redacted) lines.push(`  blob ${r.sha256} (seq ${r.seq}) redacted at seq ${r.redactedAt}: ${r.reason}`);
  if (!report.keyPinned) lines.push("  note: the verifier key came from the log itself; pass --vkey to pin the key you trust");
  return lines;
}

async function verifyCommand(cli: CliContext, exportDir: string | undefined, options: VerifyOptions): Promise<void> {
  const pinned = options.vkey ? await loadVkey(options.vkey) : undefined;
  const trusted: string[] = [];
  for (const file of options.checkpoint ?? []) trusted.push(...(await readCheckpointFile(file)));
  let source: LogSource;
  let close = async () => {};
  if (exportDir) {
    source = await ExportSource.open(exportDir);
  } else {
    const reader = await AuditReader.open(options.db ?? cli.paths.auditDb);
    source = reader.source();
    close = () => reader.close();
  }
  try {
    const key = pinned ?? parseVerifierKey(source.vkey);
    const report = await verifyLog(source, {
      key,
      keyPinned: pinned !== undefined,
      trustedCheckpoints: trusted,
    });
    cli.print(describeReport(report), report);
    if (!report.ok) process.exitCode = 1;
  } finally {
    await close();
  }
}

interface VerifyOptions {
  vkey?: string;
  checkpoint?: string[];
  db?: string;
}

const ShowOptionsSchema = z.object({
  session: z.string().min(1).max(512).optional(),
  kind: z.enum(ENTRY_KINDS).optional(),
  from: NonNegativeIntArg.optional(),
  limit: PositiveIntArg.optional(),
});

const Sha256Arg = z.string().regex(/^[0-9a-f]{64}$/, "must be a lowercase hex SHA-256");
const ReasonArg = z.string().trim().min(3, "give a reason").max(500);

export function registerAudit(program: Command): void {
  const audit = new Command("audit").description("the tamper-evident audit log: verify, export, prove, show");

  audit
    .command("verify")
    .argument("[export-dir]", "an export directory (default: the live audit database)")
    .description("recompute the whole log from its entries and check every signed checkpoint")
    .option("--vkey <vkey-or-file>", "the verifier key you trust (C2SP vkey text or a file)")
    .option("--checkpoint <file...>", "checkpoint file(s) you hold from earlier: detects truncation and rollback")
    .option("--db <path>", "verify this audit database file instead of the state dir's")
    .action(async (exportDir: string | undefined, options: VerifyOptions, command: Command) => {
      await verifyCommand(contextOf(command), exportDir, options);
    });

  audit
    .command("export")
    .description("write a self-contained export: entries, blobs, checkpoints, verifier key")
    .requiredOption("--out <dir>", "a new directory to write")
    .action(async (options: { out: string }, command: Command) => {
      const cli = contextOf(command);
      const log = await openAuditLog(cli.paths, await cli.config());
      try {
        const summary = await log.export(options.out);
        cli.print(
          `Exported ${summary.entries} entries, ${summary.blobs} blobs and ${summary.checkpoints} checkpoints to ${summary.dir}`,
          summary,
        );
      } finally {
        await log.close();
      }
    });

  audit
    .command("checkpoint")
    .description("sign a checkpoint of the log now")
    .action(async (_options: unknown, command: Command) => {
      const cli = contextOf(command);
      const log = await openAuditLog(cli.paths, await cli.config());
      try {
        const cp = await log.checkpoint();
        cli.print(cp.note.trimEnd(), cp);
      } finally {
        await log.close();
      }
    });

  audit
    .command("prove")
    .argument("<seq>", "sequence number of the entry")
    .description("write a C2SP tlog-proof that the entry is in the log, checkable offline with the vkey")
    .option("--out <file>", "write the proof to a file instead of stdout")
    .action(async (seqText: string, options: { out?: string }, command: Command) => {
      const cli = contextOf(command);
      const seq = parseArg(NonNegativeIntArg, seqText, "seq");
      const log = await openAuditLog(cli.paths, await cli.config());
      try {
        const stored = await log.entry(seq);
        if (!stored) throw new SkillgateError("NOT_FOUND", `no entry with seq ${seq} (log size ${log.size})`);
        const cp = await log.checkpoint();
        const inclusion = await log.proveInclusion(seq, cp.size);
        const text = formatTlogProof({
          index: seq,
          proof: inclusion.proof.map((h) => Buffer.from(h, "hex")),
          note: cp.note,
          entryBytes: stored.bytes,
        });
        if (options.out) await writeFile(options.out, text);
        if (options.out) cli.print(`Wrote proof of seq ${seq} in a tree of ${cp.size} to ${options.out}`, { ...inclusion, file: options.out });
        else cli.print(text.trimEnd(), { ...inclusion, proofText: text });
      } finally {
        await log.close();
      }
    });

  audit
    .command("check-proof")
    .argument("<file>", "a .tlog-proof file from 'audit prove'")
    .description("check an inclusion proof offline against the verifier key")
    .requiredOption("--vkey <vkey-or-file>", "the verifier key you trust")
    .action(async (file: string, options: { vkey: string }, command: Command) => {
      const cli = contextOf(command);
      const key = await loadVkey(options.vkey);
      const text = await readFile(file, "utf8").catch(() => {
        throw new SkillgateError("USAGE", `cannot read ${file}`);
      });
      const checked = verifyTlogProof(text, key);
      const e = checked.entry;
      cli.print(
        `OK: seq ${checked.index} (${e.kind} ${e.type}, ${e.ts}) is in ${checked.checkpoint.origin} at size ${checked.checkpoint.size}`,
        { ok: true, index: checked.index, entry: e, size: checked.checkpoint.size },
      );
    });

  audit
    .command("show")
    .description("list entries, optionally filtered")
    .option("--session <key>", "only this session")
    .option("--kind <kind>", `only this kind (${ENTRY_KINDS.join(", ")})`)
    .option("--from <seq>", "start at this seq")
    .option("--limit <n>", "at most this many entries", "50")
    .action(async (raw: unknown, command: Command) => {
      const cli = contextOf(command);
      const options = parseArg(ShowOptionsSchema, raw, "options");
      const reader = await AuditReader.open(cli.paths.auditDb);
      try {
        const entries = await reader.query({
          ...(options.session ? { session: options.session } : {}),
          ...(options.kind ? { kind: options.kind } : {}),
          fromSeq: options.from ?? 0,
          limit: options.limit ?? 50,
        });
        const lines = entries.map(
          (e) => `${e.seq}\t${e.ts}\t${e.kind}\t${e.type}\t${e.session ?? "-"}\t${e.actor}\t${JSON.stringify(e.data)}`,
        );
        cli.print(lines.length > 0 ? lines : ["(no entries)"], entries);
      } finally {
        await reader.close();
      }
    });

  audit
    .command("redact")
    .argument("<sha256>", "the blob to redact")
    .description("delete a blob's content, keeping its hash; recorded as a system entry")
    .requiredOption("--reason <text>", "why (recorded in the log)")
    .action(async (shaText: string, options: { reason: string }, command: Command) => {
      const cli = contextOf(command);
      const sha = parseArg(Sha256Arg, shaText, "sha256");
      const reason = parseArg(ReasonArg, options.reason, "--reason");
      const log = await openAuditLog(cli.paths, await cli.config());
      try {
        const appended = await log.redact(sha, reason, "operator:cli");
        cli.print(`Redacted ${sha}; recorded as seq ${appended.seq}`, { sha256: sha, seq: appended.seq });
      } finally {
        await log.close();
      }
    });

  program.addCommand(audit);
}
