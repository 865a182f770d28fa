import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import {
  type AuditLog,
  EXPORT_FILES,
  ExportSource,
  formatTlogProof,
  parseVerifierKey,
  verifyLog,
  verifyTlogProof,
} from "../../../audit/index.js";
import { openAuditLog } from "../../audit-log.js";
import { loadConfig } from "../../config/load.js";
import { SkillgateError } from "../../errors.js";
import { ensureState } from "../../state/init.js";
import { installExampleSkills } from "../../skills/example-registry.js";
import { contextOf } from "../context.js";

/** One scripted agent turn, as the gateway will record it: what it saw, decided and touched. */
async function recordTurn(log: AuditLog): Promise<number> {
  const session = "agent:demo:main";
  await log.append({ session, actor: "gateway", kind: "system", type: "session.start", data: { agent: "demo" } });
  await log.append({
    session,
    actor: "client:cli",
    kind: "saw",
    type: "message.inbound",
    data: { channel: "ws" },
    blobs: [{ content: "What's the weather in Lisbon? Save it to my notes.", type: "text/plain" }],
  });
  await log.append({
    session,
    actor: "model:scripted",
    kind: "decided",
    type: "tool.call",
    data: { tool: "@demo/weather.forecast", args: { latitude: 38.72, longitude: -9.14 } },
  });
  await log.append({
    session,
    actor: "policy",
    kind: "decided",
    type: "policy.decision",
    data: { tool: "@demo/weather.forecast", decision: "allow", rule: "read-tools" },
  });
  const touched = await log.append({
    session,
    actor: "broker",
    kind: "touched",
    type: "net.fetch",
    data: { host: "api.open-meteo.com", method: "GET", path: "/v1/forecast", status: 200 },
  });
  await log.append({
    session,
    actor: "sandbox",
    kind: "saw",
    type: "tool.result",
    data: { tool: "@demo/weather.forecast" },
    blobs: [{ content: JSON.stringify({ city: "Lisbon", tempC: 21, sky: "clear" }), type: "application/json" }],
  });
  await log.append({
    session,
    actor: "model:scripted",
    kind: "decided",
    type: "reply",
    data: {},
    blobs: [{ content: "It's 21°C and clear in Lisbon.", type: "text/plain" }],
  });
  return touched.seq;
}

/** Flips one character inside the `data` of the entry with `seq` in an export's JSONL. */
async function tamperExport(dir: string, seq: number): Promise<void> {
  const file = join(dir, EXPORT_FILES.entries);
  const lines = (await readFile(file, "utf8")).split("\n");
  const line = lines[seq];
  if (!line) throw new SkillgateError("INTERNAL", `export has no line ${seq}`);
  lines[seq] = line.replace('"status":200', '"status":201');
  await writeFile(file, lines.join("\n"));
}

/**
 * What `npm start` runs until the gateway lands: a real audit round trip on the default
 * state dir, ending with a tampered copy that verification must catch.
 */
export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("record a scripted turn in the audit log, checkpoint, prove, export, verify, and catch tampering")
    .action(async (_options: unknown, command: Command) => {
      const cli = contextOf(command);
      const say = (line: string) => cli.note(line);
      const state = await ensureState(cli.paths.home);
      say(state.created ? `Initialized ${state.paths.home}` : `Using ${state.paths.home}`);
      const key = parseVerifierKey(state.vkey);
      const log = await openAuditLog(state.paths, await loadConfig(state.paths.config));
      const work = await mkdtemp(join(tmpdir(), "skillgate-demo-"));
      try {
        const skills = await installExampleSkills(state.paths, log);
        say(`0. Example skills, signed by this state dir's demo key and installed from ${join(state.paths.home, "demo-registry")}:`);
        for (const s of skills) say(`   ${s.name}@${s.version}  sha256 ${s.sha256.slice(0, 16)}…  ${s.installed ? "installed (verified before extraction)" : "already installed"}`);
        const touchedSeq = await recordTurn(log);
        say(`1. Recorded a scripted turn: the log now has ${log.size} entries`);
        const checkpoint = await log.checkpoint();
        say(`2. Signed checkpoint (C2SP signed note):\n${indent(checkpoint.note)}`);
        const stored = await log.entry(touchedSeq);
        const inclusion = await log.proveInclusion(touchedSeq, checkpoint.size);
        const proofText = formatTlogProof({
          index: touchedSeq,
          proof: inclusion.proof.map((h) => Buffer.from(h, "hex")),
          note: checkpoint.note,
          entryBytes: stored?.bytes ?? Buffer.alloc(0),
        });
        verifyTlogProof(proofText, key);
        say(`3. Inclusion proof for seq ${touchedSeq} (${inclusion.proof.length} hashes) checks against the vkey`);
        const exportDir = join(work, "export");
        const summary = await log.export(exportDir);
        const clean = await verifyLog(await ExportSource.open(exportDir), { key, keyPinned: true });
        if (!clean.ok) throw new SkillgateError("DEMO_FAILED", `clean export failed: ${clean.failure?.message}`);
        say(`4. Exported ${summary.entries} entries; offline verification: OK (root ${clean.rootHex.slice(0, 16)}…)`);
        const tamperedDir = join(work, "tampered");
        await cp(exportDir, tamperedDir, { recursive: true });
        await tamperExport(tamperedDir, touchedSeq);
        const caught = await verifyLog(await ExportSource.open(tamperedDir), { key, keyPinned: true });
        if (caught.ok || !caught.failure) throw new SkillgateError("DEMO_FAILED", "tampering went undetected");
        say(`5. Changed "status":200 to 201 in seq ${touchedSeq} of a copy; verification: ${caught.failure.kind} at seq ${caught.failure.seq}`);
        say(`\nAudit verifier key: ${state.vkey}`);
        say("Try: npx skillgate audit show | npx skillgate audit verify --vkey .skillgate/keys/audit.vkey");
        cli.print("demo: example skills verified and installed; audit round trip OK; tampering detected", {
          ok: true,
          skills,
          entries: log.size,
          checkpoint,
          tamperDetected: caught.failure,
        });
      } finally {
        await log.close();
        await rm(work, { recursive: true, force: true });
      }
    });
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split("\n")
    .map((line) => `   ${line}`)
    .join("\n");
}
