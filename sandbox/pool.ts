import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { Validator } from "@cfworker/json-schema";
import type { Manifest } from "../skills-registry/index.js";
import { checkCapability, declaredCapabilities, type NetTarget, type NotCapable } from "./capability-check.js";
import { CapabilityRefused, SandboxError, type SandboxErrorCode } from "./errors.js";
import { type Walls, workerLaunch } from "./launch.js";
import { type CapabilityName, type CapRequest, FromWorkerSchema, type InvokeStats, type SandboxLimits, type ToWorker } from "./protocol.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A skill as the gateway knows it: its verified manifest is the one enforced here. */
export interface SandboxSkill {
  name: string;
  /** sha256 of the package; with the session it names the isolate. */
  digest: string;
  code: string;
  manifest: Manifest;
}

export interface CapabilityCall {
  session: string;
  skill: SandboxSkill;
  invocation: string;
  capability: CapabilityName;
  op: string;
  args: Json;
  /** For net.fetch: the parsed, manifest-checked target. */
  net?: NetTarget;
}

/** Where effects happen (policy, credentials, egress, files): supplied by the runtime. */
export type CapabilityHandler = (call: CapabilityCall) => Promise<Json>;

export interface SandboxEvent {
  type: "refused" | "crashed" | "capability";
  session?: string;
  skill?: string;
  invocation?: string;
  refusal?: NotCapable;
  capability?: CapabilityName;
  op?: string;
  message?: string;
}

export interface PoolOptions {
  size?: number;
  capabilityHandler: CapabilityHandler;
  /** Operator caps over whatever a manifest asks for. */
  maxLimits?: Partial<SandboxLimits>;
  maxCallsPerInvocation?: number;
  idleTtlMs?: number;
  heapMb?: number;
  network?: "isolate" | "allow";
  /** Test-only: start a different entry under the same walls. */
  entry?: string;
  onEvent?: (event: SandboxEvent) => void;
}

export interface InvokeOptions {
  session: string;
  skill: SandboxSkill;
  tool: string;
  input: unknown;
  fresh?: boolean;
}

export interface InvokeResult {
  output: Json;
  stats: InvokeStats;
}

interface Pending {
  /** The message as sent, to resend with the code when the worker asks for it. */
  message: Extract<ToWorker, { type: "invoke" }>;
  /** Counted here too: the worker's own count cannot be trusted. */
  calls: number;
  timer?: NodeJS.Timeout;
  resolve: (r: InvokeResult) => void;
  reject: (e: SandboxError) => void;
  session: string;
  skill: SandboxSkill;
}

interface Worker {
  child: ChildProcess;
  /** Digests whose code this worker has been sent. */
  sentCode: Set<string>;
  ready: Promise<void>;
  pending: Map<string, Pending>;
  alive: boolean;
}

/** Error codes a worker may report; it cannot claim a refusal or a crash. */
const WORKER_CODES = new Set<string>(["MEMORY_LIMIT", "CPU_LIMIT", "WALL_LIMIT", "OUTPUT_LIMIT", "CALL_LIMIT", "TOOL_NOT_FOUND", "SKILL_LOAD_FAILED", "SKILL_ERROR"]);
const WORKER_GRACE_MS = 1000;

const DEFAULT_MAX: SandboxLimits = { memoryMb: 256, cpuMs: 10_000, wallMs: 60_000, outputBytes: 4 * 1024 * 1024, maxCalls: 256 };

/**
 * The gateway side of the sandbox: a pool of locked-down worker processes, sticky by
 * (session, skill) so warm isolates are reused, restarted when one dies. Every
 * capability request a worker sends is checked again against the manifest the gateway
 * holds for the running invocation before the handler sees it.
 */
export class SandboxPool {
  private readonly workers: Worker[] = [];
  private readonly invocations = new Map<string, { worker: Worker; pending: Pending }>();
  private readonly validators = new Map<string, Validator>();
  private closed = false;
  readonly walls: Walls;

  private constructor(private readonly options: PoolOptions) {
    this.walls = workerLaunch({ entry: options.entry, heapMb: options.heapMb, network: options.network }).walls;
  }

  static async start(options: PoolOptions): Promise<SandboxPool> {
    const pool = new SandboxPool(options);
    for (let i = 0; i < (options.size ?? 2); i++) pool.workers.push(pool.spawnWorker());
    try {
      await Promise.all(pool.workers.map((w) => w.ready));
    } catch (err) {
      // Do not keep respawning workers that cannot start.
      pool.closed = true;
      for (const w of pool.workers) if (w.alive) w.child.kill("SIGKILL");
      throw err;
    }
    return pool;
  }

  private spawnWorker(): Worker {
    const launch = workerLaunch({ entry: this.options.entry, heapMb: this.options.heapMb, idleTtlMs: this.options.idleTtlMs, network: this.options.network });
    // No environment at all: nothing secret can be inherited, by accident or otherwise.
    const child = spawn(launch.command, launch.args, { env: {}, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let markReady: () => void = () => {};
    let failStart: (e: Error) => void = () => {};
    const worker: Worker = {
      child,
      sentCode: new Set(),
      pending: new Map(),
      alive: true,
      ready: new Promise<void>((resolve, reject) => {
        markReady = resolve;
        failStart = reject;
      }),
    };
    worker.ready.catch(() => undefined);
    child.on("message", (raw: unknown) => this.onMessage(worker, raw, markReady));
    child.on("exit", (code, signal) => {
      worker.alive = false;
      failStart(new SandboxError("SANDBOX_UNAVAILABLE", `sandbox worker exited during start (${signal ?? code})`));
      this.onWorkerExit(worker, code, signal);
    });
    child.on("error", (err) => failStart(new SandboxError("SANDBOX_UNAVAILABLE", `cannot start sandbox worker: ${err.message}`)));
    return worker;
  }

  private onWorkerExit(worker: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    for (const [id, p] of worker.pending) {
      this.invocations.delete(id);
      if (p.timer) clearTimeout(p.timer);
      p.reject(new SandboxError("WORKER_CRASHED", `the sandbox worker died (${signal ?? `exit ${code}`}) during this call`));
      this.options.onEvent?.({ type: "crashed", session: p.session, skill: p.skill.name, invocation: id, message: String(signal ?? code) });
    }
    worker.pending.clear();
    const index = this.workers.indexOf(worker);
    if (index >= 0 && !this.closed) this.workers[index] = this.spawnWorker();
  }

  private onMessage(worker: Worker, raw: unknown, markReady: () => void): void {
    const parsed = FromWorkerSchema.safeParse(raw);
    if (!parsed.success) {
      // A worker that speaks nonsense is treated as compromised: end it.
      worker.child.kill("SIGKILL");
      return;
    }
    const message = parsed.data;
    if (message.type === "ready") return markReady();
    if (message.type === "cap") return void this.onCapability(worker, message);
    const entry = worker.pending.get(message.id);
    if (!entry) return;
    if (!message.ok && message.error?.code === "NEED_CODE" && entry.message.code === undefined) {
      entry.message = { ...entry.message, code: entry.skill.code };
      worker.sentCode.add(entry.skill.digest);
      worker.child.send(entry.message);
      return;
    }
    this.finish(worker, message.id, entry);
    if (message.ok && message.output !== undefined) {
      const cap = this.limitsFor(entry.skill).outputBytes;
      if (Buffer.byteLength(message.output) > cap) return entry.reject(new SandboxError("OUTPUT_LIMIT", `the tool's output is over ${cap} bytes`));
      let output: Json;
      try {
        output = JSON.parse(message.output) as Json;
      } catch {
        return entry.reject(new SandboxError("SKILL_ERROR", "the tool's output is not JSON"));
      }
      return entry.resolve({ output, stats: message.stats });
    }
    // A worker may only report what a worker can know; anything else becomes SKILL_ERROR.
    const reported = message.error?.code ?? "SKILL_ERROR";
    const code: SandboxErrorCode = WORKER_CODES.has(reported) ? (reported as SandboxErrorCode) : "SKILL_ERROR";
    entry.reject(new SandboxError(code, message.error?.message ?? "the skill failed", { details: { stats: message.stats } }));
  }

  private finish(worker: Worker, id: string, entry: Pending): void {
    worker.pending.delete(id);
    this.invocations.delete(id);
    if (entry.timer) clearTimeout(entry.timer);
  }

  private async onCapability(worker: Worker, req: CapRequest): Promise<void> {
    const reply = (msg: ToWorker) => {
      if (worker.alive) worker.child.send(msg);
    };
    const running = this.invocations.get(req.invocation);
    // The worker can name any invocation; only one it is actually running counts.
    if (!running || running.worker !== worker) {
      return reply({ type: "cap-reply", callId: req.callId, ok: false, error: { code: "NOT_CAPABLE", message: "no such invocation" } });
    }
    const { session, skill } = running.pending;
    running.pending.calls += 1;
    const maxCalls = this.limitsFor(skill).maxCalls;
    if (running.pending.calls > maxCalls) {
      return reply({ type: "cap-reply", callId: req.callId, ok: false, error: { code: "CALL_LIMIT", message: `more than ${maxCalls} capability calls` } });
    }
    const decision = checkCapability(skill.manifest, req.capability, req.op, req.args as Json);
    if (!decision.ok) {
      this.options.onEvent?.({ type: "refused", session, skill: skill.name, invocation: req.invocation, refusal: decision.refusal });
      return reply({
        type: "cap-reply",
        callId: req.callId,
        ok: false,
        error: { code: "NOT_CAPABLE", message: `${skill.name} may not ${decision.refusal.request}`, details: { ...decision.refusal } },
      });
    }
    try {
      const value = await this.options.capabilityHandler({ session, skill, invocation: req.invocation, capability: req.capability, op: req.op, args: req.args as Json, net: decision.net });
      reply({ type: "cap-reply", callId: req.callId, ok: true, value });
    } catch (err) {
      if (err instanceof CapabilityRefused) {
        const refusal = { ...err.refusal, capability: req.capability, op: req.op };
        this.options.onEvent?.({ type: "refused", session, skill: skill.name, invocation: req.invocation, refusal });
        return reply({ type: "cap-reply", callId: req.callId, ok: false, error: { code: err.code, message: err.message.split("\n")[0]?.slice(0, 1000) ?? "refused", details: refusal } });
      }
      const e = err as { code?: unknown; message?: unknown; details?: unknown };
      reply({
        type: "cap-reply",
        callId: req.callId,
        ok: false,
        error: { code: typeof e.code === "string" ? e.code : "CAPABILITY_ERROR", message: String(e.message ?? "failed").split("\n")[0]?.slice(0, 1000) ?? "failed", ...(e.details !== undefined ? { details: e.details as Json } : {}) },
      });
    }
  }

  /** The manifest's limits, capped by the operator's. */
  limitsFor(skill: SandboxSkill): SandboxLimits {
    const max = { ...DEFAULT_MAX, ...this.options.maxLimits };
    const m = skill.manifest.limits;
    return {
      memoryMb: Math.min(m.memoryMb, max.memoryMb),
      cpuMs: Math.min(m.cpuMs, max.cpuMs),
      wallMs: Math.min(m.wallMs, max.wallMs),
      outputBytes: Math.min(m.outputBytes, max.outputBytes),
      maxCalls: Math.min(this.options.maxCallsPerInvocation ?? max.maxCalls, max.maxCalls),
    };
  }

  private validateInput(skill: SandboxSkill, tool: string, input: unknown): void {
    const spec = skill.manifest.tools.find((t) => t.name === tool);
    if (!spec) throw new SandboxError("TOOL_NOT_FOUND", `${skill.name} has no tool ${tool}`);
    const key = `${skill.digest}\0${tool}`;
    let validator = this.validators.get(key);
    if (!validator) {
      validator = new Validator(spec.input as never, "2020-12", true);
      this.validators.set(key, validator);
    }
    const result = validator.validate(input);
    if (!result.valid) {
      const first = result.errors.at(-1);
      throw new SandboxError("INVALID_INPUT", `input for ${tool}: ${first ? `${first.instanceLocation} ${first.error}` : "does not match the tool's schema"}`);
    }
  }

  /** Runs one tool call in a worker; resolves with its JSON output or rejects with a coded SandboxError. */
  invoke(options: InvokeOptions): Promise<InvokeResult> {
    if (this.closed) return Promise.reject(new SandboxError("SANDBOX_CLOSED", "the sandbox is shut down"));
    const { session, skill, tool } = options;
    try {
      this.validateInput(skill, tool, options.input);
    } catch (err) {
      return Promise.reject(err);
    }
    const key = `${session}\0${skill.digest}`;
    const worker = this.workers[stickyIndex(key, this.workers.length)] as Worker;
    const id = randomUUID();
    return worker.ready.then(
      () =>
        new Promise<InvokeResult>((resolve, reject) => {
          const firstTime = !worker.sentCode.has(skill.digest);
          worker.sentCode.add(skill.digest);
          const message: Extract<ToWorker, { type: "invoke" }> = {
            type: "invoke",
            id,
            key,
            digest: skill.digest,
            ...(firstTime ? { code: skill.code } : {}),
            filename: `skill:///${skill.name}@${skill.digest.slice(0, 12)}/${skill.manifest.entry}`,
            tool,
            input: options.input as Json,
            limits: this.limitsFor(skill),
            capabilities: declaredCapabilities(skill.manifest),
            wasm: false,
            fresh: options.fresh ?? false,
          };
          const pending: Pending = { message, resolve, reject, session, skill, calls: 0 };
          // The worker enforces the wall limit; this catches a worker that stops answering.
          pending.timer = setTimeout(() => {
            if (!worker.pending.has(id)) return;
            this.finish(worker, id, pending);
            reject(new SandboxError("WALL_LIMIT", `the sandbox worker did not answer within ${message.limits.wallMs} ms`));
            worker.child.kill("SIGKILL");
          }, message.limits.wallMs + WORKER_GRACE_MS);
          worker.pending.set(id, pending);
          this.invocations.set(id, { worker, pending });
          worker.child.send(message);
        }),
    );
  }

  /** Drops a session's isolates for a skill (e.g. when the session ends). */
  dispose(session: string, digest: string): void {
    const key = `${session}\0${digest}`;
    const worker = this.workers[stickyIndex(key, this.workers.length)];
    if (worker?.alive) worker.child.send({ type: "dispose", key } satisfies ToWorker);
  }

  /** Test hook: the worker that would run this (session, skill). */
  workerPid(session: string, digest: string): number | undefined {
    return this.workers[stickyIndex(`${session}\0${digest}`, this.workers.length)]?.child.pid;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (!w.alive) return resolve();
            w.child.once("exit", () => resolve());
            w.child.disconnect();
            setTimeout(() => w.child.kill("SIGKILL"), 2000).unref();
          }),
      ),
    );
  }
}

function stickyIndex(key: string, n: number): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return (h >>> 0) % n;
}
