import type { IvmContext, IvmIsolate, IvmModule, IvmModuleHandle, IvmReference } from "../ivm-types.js";
import type { CapabilityName, InvokeRequest, InvokeStats, WireError } from "../protocol.js";
import { bootstrapSource, hostModuleSource } from "./guest-source.js";

/** A capability call leaving the isolate: answered by the gateway, as JSON text. */
export type HostCall = (capability: CapabilityName, op: string, argsJson: string) => Promise<string>;

interface Warm {
  isolate: IvmIsolate;
  context: IvmContext;
  module: IvmModuleHandle;
  startTool: IvmReference;
  takeSettled: IvmReference;
  /** Calls waiting for the guest's done() notification, by call id. */
  waiting: Map<string, (settled: Settled) => void>;
  lastUsed: number;
  /** One invocation at a time per isolate: capability calls are charged to it. */
  busy: Promise<void>;
  current?: Invocation;
}

interface Invocation {
  id: string;
  calls: number;
  maxCalls: number;
  /** Set when a limit or the watchdog ended the call; the isolate is then discarded. */
  failure?: WireError;
}

/** A tool call's end as the guest runner reports it, with the calls it attempted. */
interface Settled {
  ok: boolean;
  text: string;
  calls: number;
}

export type Outcome = { ok: true; output: string; stats: InvokeStats } | { ok: false; error: WireError; stats: InvokeStats };

const MS = 1_000_000n;

function limitError(code: string, message: string): WireError {
  return { code, message };
}

/** Maps what isolated-vm throws on the host side to our coded errors. */
function classify(err: unknown, invocation: Invocation, isolate: IvmIsolate): WireError {
  if (invocation.failure) return invocation.failure;
  const message = err instanceof Error ? err.message : String(err);
  if (/memory limit/i.test(message) || (isolate.isDisposed && /disposed/i.test(message))) {
    return limitError("MEMORY_LIMIT", "the skill exceeded its memory limit");
  }
  if (/Script execution timed out/i.test(message)) return limitError("CPU_LIMIT", "the skill exceeded its CPU time limit");
  const first = message.split("\n")[0]?.slice(0, 500) ?? "";
  const coded = /^(TOOL_NOT_FOUND|OUTPUT_NOT_JSON): (.*)$/.exec(first.replace(/^Error: /, ""));
  if (coded) return { code: coded[1] === "TOOL_NOT_FOUND" ? "TOOL_NOT_FOUND" : "SKILL_ERROR", message: coded[2] ?? first };
  return { code: "SKILL_ERROR", message: first || "the skill threw" };
}

/**
 * Isolates for one worker: one per (session, skill@digest), warm between calls and
 * disposed after an idle TTL, after `fresh` calls, and after any limit is hit.
 */
export class IsolateHost {
  private readonly warm = new Map<string, Warm>();
  /** Skill code by digest, so the gateway sends each bundle once, not on every call. */
  private readonly code = new Map<string, string>();
  private readonly sweeper: NodeJS.Timeout;
  /** Running calls the CPU watchdog looks at; one timer for all of them. */
  private readonly running = new Set<{ isolate: IvmIsolate; cpuStart: bigint; cpuLimit: bigint; onExceeded: () => void }>();
  private watchdog: NodeJS.Timeout | undefined;

  constructor(
    private readonly ivm: IvmModule,
    private readonly hostCall: (invocation: string, capability: CapabilityName, op: string, argsJson: string) => Promise<string>,
    private readonly idleTtlMs = 60_000,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(idleTtlMs, 10_000));
    this.sweeper.unref();
  }

  get size(): number {
    return this.warm.size;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, w] of this.warm) if (!w.current && now - w.lastUsed > this.idleTtlMs) this.dispose(key);
  }

  dispose(key: string): void {
    const w = this.warm.get(key);
    if (!w) return;
    this.warm.delete(key);
    if (!w.isolate.isDisposed) w.isolate.dispose();
  }

  private async create(req: InvokeRequest, code: string): Promise<Warm> {
    const isolate = new this.ivm.Isolate({ memoryLimit: req.limits.memoryMb });
    try {
      const context = await isolate.createContext();
      // The bridge exists before the isolate's record does; it finds the record through this.
      const self: { warm?: Warm } = {};
      const bridge = new this.ivm.Reference(async (capability: unknown, op: unknown, args: unknown): Promise<string> => {
        const inv = self.warm?.current;
        if (!inv) return JSON.stringify({ ok: false, error: { code: "CALL_LIMIT", message: "no invocation is running" } });
        if (typeof capability !== "string" || typeof op !== "string" || typeof args !== "string") {
          return JSON.stringify({ ok: false, error: { code: "CAPABILITY_ERROR", message: "malformed capability call" } });
        }
        inv.calls += 1;
        if (inv.calls > inv.maxCalls) {
          inv.failure = limitError("CALL_LIMIT", `the skill made more than ${inv.maxCalls} capability calls`);
          // Stop the guest now: a flood is not allowed to keep running until the wall limit.
          setImmediate(() => {
            if (!isolate.isDisposed) isolate.dispose();
          });
          return JSON.stringify({ ok: false, error: inv.failure });
        }
        return this.hostCall(inv.id, capability as CapabilityName, op, args);
      });
      const waiting = new Map<string, (settled: Settled) => void>();
      const done = new this.ivm.Reference((callId: unknown, ok: unknown, text: unknown, calls: unknown) => {
        if (typeof callId !== "string" || typeof ok !== "boolean" || typeof text !== "string" || typeof calls !== "number") return;
        const resolve = waiting.get(callId);
        waiting.delete(callId);
        resolve?.({ ok, text, calls });
      });
      const api = (await context.evalClosure(bootstrapSource(req.wasm, req.capabilities), [bridge, done], {
        result: { reference: true },
        timeout: 1000,
      })) as IvmReference;
      const startTool = (await api.get("startTool", { reference: true })) as IvmReference;
      const takeSettled = (await api.get("takeSettled", { reference: true })) as IvmReference;
      const bindTools = (await api.get("bindTools", { reference: true })) as IvmReference;
      const host = await isolate.compileModule(hostModuleSource(req.capabilities), { filename: "skillgate:host" });
      // Only the synthetic host module can be imported; a package never supplies cached data.
      const module = await isolate.compileModule(code, { filename: req.filename });
      await module.instantiate(context, (specifier) => {
        if (specifier === "skillgate") return host;
        throw new Error(`skills can import only "skillgate", not ${JSON.stringify(specifier)}`);
      });
      await module.evaluate({ timeout: req.limits.cpuMs });
      await bindTools.apply(undefined, [module.namespace.derefInto()], { timeout: 1000 });
      // A bundle that never imports "skillgate" must not find its capabilities on the global either.
      await context.evalClosure("delete globalThis.__skillgate_capabilities__;", [], { timeout: 1000 });
      api.release();
      bindTools.release();
      self.warm = { isolate, context, module, startTool, takeSettled, waiting, lastUsed: Date.now(), busy: Promise.resolve() };
      return self.warm;
    } catch (err) {
      if (!isolate.isDisposed) isolate.dispose();
      const message = (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
      throw Object.assign(new Error(message), { wire: /memory limit/i.test(message) ? limitError("MEMORY_LIMIT", "the skill exceeded its memory limit while loading") : { code: "SKILL_LOAD_FAILED", message: message.slice(0, 500) } });
    }
  }

  private watch(entry: { isolate: IvmIsolate; cpuStart: bigint; cpuLimit: bigint; onExceeded: () => void }): void {
    this.running.add(entry);
    this.watchdog ??= setInterval(() => {
      for (const r of this.running) if (!r.isolate.isDisposed && r.isolate.cpuTime - r.cpuStart > r.cpuLimit) r.onExceeded();
    }, 5);
  }

  private unwatch(entry: { isolate: IvmIsolate; cpuStart: bigint; cpuLimit: bigint; onExceeded: () => void }): void {
    this.running.delete(entry);
    if (this.running.size === 0 && this.watchdog) {
      clearInterval(this.watchdog);
      this.watchdog = undefined;
    }
  }

  /** Runs one tool call under every limit; never throws. */
  async invoke(req: InvokeRequest): Promise<Outcome> {
    const started = Date.now();
    let coldStart = false;
    let warm = this.warm.get(req.key);
    const zeroStats = (): InvokeStats => ({ cpuMs: 0, wallMs: Date.now() - started, calls: 0, coldStart });
    if (req.code !== undefined) {
      if (this.code.size >= 64 && !this.code.has(req.digest)) this.code.delete(this.code.keys().next().value as string);
      this.code.set(req.digest, req.code);
    }
    if (!warm) {
      coldStart = true;
      const code = this.code.get(req.digest);
      if (code === undefined) return { ok: false, error: { code: "NEED_CODE", message: "send the bundle" }, stats: zeroStats() };
      try {
        warm = await this.create(req, code);
      } catch (err) {
        return { ok: false, error: (err as { wire: WireError }).wire, stats: zeroStats() };
      }
      this.warm.set(req.key, warm);
    }
    const w = warm;
    const previous = w.busy;
    let release = () => {};
    w.busy = new Promise((resolve) => (release = resolve));
    await previous;
    if (w.isolate.isDisposed || this.warm.get(req.key) !== w) {
      release();
      return this.invoke(req);
    }
    const inv: Invocation = { id: req.id, calls: 0, maxCalls: req.limits.maxCalls };
    w.current = inv;
    const cpuStart = w.isolate.cpuTime;
    const cpuLimit = BigInt(req.limits.cpuMs) * MS;
    let abandon: (error: WireError) => void = () => {};
    const abandoned = new Promise<never>((_, reject) => (abandon = (error) => reject(new Error(error.message))));
    abandoned.catch(() => undefined);
    const stop = (error: WireError) => {
      if (inv.failure) return;
      inv.failure = error;
      if (!w.isolate.isDisposed) w.isolate.dispose();
      abandon(error);
    };
    // isolated-vm's timeout covers synchronous runs only; awaited host calls and later
    // continuations are watched here, by wall clock and by the isolate's CPU counter.
    const wall = setTimeout(() => stop(limitError("WALL_LIMIT", `the skill ran longer than ${req.limits.wallMs} ms`)), req.limits.wallMs);
    const watched = { isolate: w.isolate, cpuStart, cpuLimit, onExceeded: () => stop(limitError("CPU_LIMIT", `the skill used more than ${req.limits.cpuMs} ms of CPU`)) };
    this.watch(watched);
    let outcome: Outcome;
    let guestCalls = 0;
    try {
      const notified = new Promise<Settled>((resolve) => w.waiting.set(req.id, resolve));
      // Synchronous on this thread: no hop to the isolate's thread for a tool that needs no host.
      w.startTool.applySync(undefined, [req.id, req.tool, JSON.stringify(req.input), req.limits.maxCalls], { arguments: { copy: true }, timeout: req.limits.cpuMs });
      const early = w.takeSettled.applySync(undefined, [req.id], { result: { copy: true }, timeout: 1000 }) as string | null;
      const settled = early !== null ? (JSON.parse(early) as Settled) : await Promise.race([notified, abandoned]);
      w.waiting.delete(req.id);
      guestCalls = settled.calls;
      if (settled.calls > req.limits.maxCalls) stop(limitError("CALL_LIMIT", `the skill made more than ${req.limits.maxCalls} capability calls`));
      if (inv.failure) throw new Error(inv.failure.message);
      if (!settled.ok) throw new Error(settled.text);
      const output = settled.text;
      if (Buffer.byteLength(output) > req.limits.outputBytes) {
        outcome = { ok: false, error: limitError("OUTPUT_LIMIT", `the tool's output is over ${req.limits.outputBytes} bytes`), stats: zeroStats() };
      } else {
        outcome = { ok: true, output, stats: zeroStats() };
      }
    } catch (err) {
      outcome = { ok: false, error: classify(err, inv, w.isolate), stats: zeroStats() };
    } finally {
      clearTimeout(wall);
      this.unwatch(watched);
    }
    outcome.stats.calls = Math.max(inv.calls, guestCalls);
    outcome.stats.cpuMs = w.isolate.isDisposed ? 0 : Number(w.isolate.cpuTime - cpuStart) / 1e6;
    w.current = undefined;
    w.lastUsed = Date.now();
    release();
    const limitHit = !outcome.ok && /_LIMIT$/.test(outcome.error.code);
    if (req.fresh || limitHit || w.isolate.isDisposed) this.dispose(req.key);
    return outcome;
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const key of [...this.warm.keys()]) this.dispose(key);
  }
}
