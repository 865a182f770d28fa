// "Assume the isolate fell": the worker process is the second wall. These tests start a
// test-only worker entry (test/support/hostile-worker.ts) under exactly the walls the
// real worker gets and let it run plain Node code that attacks from inside: the state
// dir, the file system, child processes, the environment, the network, the gateway's
// IPC. Then the real worker is killed mid-call to prove the pool recovers.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Sqlite } from "../../audit/store/sqlite.js";
import { type CapabilityCall, SandboxError, type SandboxEvent, SandboxPool, type SandboxSkill } from "../../sandbox/index.js";
import { parseManifest } from "../../skills-registry/index.js";
import type { Attempt, ForgeReport, HostileInput, HostileReport } from "../support/hostile-worker.js";
import { repoRoot } from "../support/paths.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const HOSTILE_ENTRY = join(repoRoot(), "dist", "test", "support", "hostile-worker.js");
/** The IPC channel is the only thing node itself puts in a forked child's environment. */
const IPC_ENV = new Set(["NODE_CHANNEL_FD", "NODE_CHANNEL_SERIALIZATION_MODE"]);

function sqliteAddonPath(): string | undefined {
  try {
    const path = join(dirname(createRequire(import.meta.url).resolve("sqlite3/package.json")), "build", "Release", "node_sqlite3.node");
    return existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

function hostileSkill(): SandboxSkill {
  // No capabilities at all: anything the worker asks the gateway for is out of bounds.
  const manifest = parseManifest(
    JSON.stringify({
      name: "@t/hostile",
      version: "1.0.0",
      description: "x",
      entry: "index.js",
      tools: [{ name: "run", description: "x", input: { type: "object" }, effect: "read" }],
      capabilities: {},
    }),
  );
  return { name: manifest.name, digest: "hostile-worker", code: "", manifest };
}

function failedAll(section: Record<string, Attempt>, what: string, code?: string): void {
  assert.ok(Object.keys(section).length > 0, `${what}: nothing was attempted`);
  for (const [name, a] of Object.entries(section)) {
    assert.equal(a.ok, false, `${what}: "${name}" succeeded (${a.detail ?? ""})`);
    if (code) assert.equal(a.code, code, `${what}: "${name}" failed with ${a.code} (${a.detail ?? ""})`);
  }
}

function listTree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).sort();
}

describe("walls of the worker process (a hostile worker entry, as if the isolate fell)", () => {
  const secret = `sk-test-${randomBytes(16).toString("hex")}`;
  const invokeSkill = hostileSkill();
  const events: SandboxEvent[] = [];
  const handlerCalls: CapabilityCall[] = [];
  let stateDir: string;
  let socketDir: string;
  let stateBefore: string[];
  let tcp: Server;
  let unixServer: Server;
  let victim: ChildProcess;
  let pool: SandboxPool;
  let input: HostileInput;
  let report: HostileReport;

  const invoke = <T>(payload: HostileInput, session = "hostile"): Promise<T> =>
    pool.invoke({ session, skill: invokeSkill, tool: "run", input: payload }).then((r) => r.output as unknown as T);

  before(async () => {
    assert.ok(existsSync(HOSTILE_ENTRY), `${HOSTILE_ENTRY} is not built`);
    // A secret in the gateway's own environment: the worker must not inherit it.
    process.env.SKILLGATE_TEST_SECRET = secret;

    // A fake state dir laid out like the real one, holding the secret everywhere.
    stateDir = mkdtempSync(join(tmpdir(), "skillgate-walls-state-"));
    writeFileSync(join(stateDir, "config.json"), JSON.stringify({ token: secret }));
    mkdirSync(join(stateDir, "keys"), { mode: 0o700 });
    writeFileSync(join(stateDir, "keys", "audit.skey"), secret, { mode: 0o600 });
    mkdirSync(join(stateDir, "workspaces", "s1"), { recursive: true });
    writeFileSync(join(stateDir, "workspaces", "s1", "notes.txt"), secret);
    const db = await Sqlite.open(join(stateDir, "audit.db"));
    await db.exec("CREATE TABLE secrets (k TEXT, v TEXT)");
    await db.run("INSERT INTO secrets VALUES (?, ?)", ["api", secret]);
    await db.close();
    chmodSync(join(stateDir, "audit.db"), 0o600);
    stateBefore = listTree(stateDir);

    const answer = (text: string) => (c: Socket) => {
      c.on("error", () => undefined); // a client that hangs up at once is fine
      c.end(text);
    };
    tcp = createServer(answer("gateway loopback\n"));
    await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
    socketDir = mkdtempSync(join(tmpdir(), "skillgate-walls-sock-"));
    unixServer = createServer(answer("host unix socket\n"));
    await new Promise<void>((resolve) => unixServer.listen(join(socketDir, "host.sock"), resolve));
    victim = spawn(process.execPath, ["-e", "setTimeout(() => {}, 300000)"], { stdio: "ignore" });

    pool = await SandboxPool.start({
      size: 1,
      entry: HOSTILE_ENTRY,
      capabilityHandler: async (call) => {
        handlerCalls.push(call);
        return { leaked: secret };
      },
      onEvent: (e) => events.push(e),
    });
    const address = tcp.address();
    input = {
      mode: "attack",
      stateDir,
      tcpPort: typeof address === "object" && address ? address.port : 0,
      unixSocket: join(socketDir, "host.sock"),
      sqliteAddon: sqliteAddonPath(),
      victimPid: victim.pid,
      gatewayPid: process.pid,
    };
    report = await invoke<HostileReport>(input);
  });

  after(async () => {
    delete process.env.SKILLGATE_TEST_SECRET;
    await pool?.close();
    victim?.kill("SIGKILL");
    await new Promise<void>((resolve) => (tcp ? tcp.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (unixServer ? unixServer.close(() => resolve()) : resolve()));
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
    if (socketDir) rmSync(socketDir, { recursive: true, force: true });
    // Anything a broken wall left behind.
    for (const name of readdirSync("/tmp")) if (name.startsWith("skillgate-hostile-")) rmSync(join("/tmp", name), { recursive: true, force: true });
    for (const name of readdirSync(dirname(HOSTILE_ENTRY))) if (name.startsWith("pwned-")) rmSync(join(dirname(HOSTILE_ENTRY), name), { force: true });
  });

  it("ran inside the pool's worker, under the permission model", () => {
    assert.ok(pool.walls.permissionModel === "--permission" || pool.walls.permissionModel === "--experimental-permission", `no permission model: ${pool.walls.permissionModel}`);
    assert.equal(pool.walls.emptyEnvironment, true);
    // In the worker's own PID namespace it is pid 1; without namespaces it is the pid the pool started.
    const expected = pool.walls.networkNamespace ? 1 : pool.workerPid("hostile", invokeSkill.digest);
    assert.equal(report.pid, expected, "the report came from another process");
    assert.notEqual(report.pid, process.pid);
  });

  it("cannot read the state dir (config, keys, audit DB, workspaces), by any path spelling or API", () => {
    const { "exists config.json": exists, ...reads } = report.fsRead;
    failedAll(reads, "state reads", "ERR_ACCESS_DENIED");
    assert.equal(exists?.ok, false, "existsSync saw the state dir");
    const plain = JSON.stringify({ ...report, addon: undefined });
    assert.ok(!plain.includes(secret), "the secret reached the worker");
  });

  it("cannot write, create, rename, delete or chmod a file anywhere", () => {
    failedAll(report.fsWrite, "writes", "ERR_ACCESS_DENIED");
    assert.equal(report.permission["fs.write"], false);
    assert.equal(report.permission["fs.write /tmp"], false);
    assert.equal(report.permission["fs.read state dir"], false);
    assert.equal(report.permission["fs.read"], false, "reads must be limited to the worker's code");
    // And the host side agrees: nothing changed in the state dir or /tmp.
    const after = listTree(stateDir).filter((n) => n !== "pwned-by-sqlite.db"); // see the addon test
    assert.deepEqual(after, stateBefore);
    assert.deepEqual(
      readdirSync("/tmp").filter((n) => n.startsWith("skillgate-hostile-")),
      [],
    );
    assert.deepEqual(
      readdirSync(dirname(HOSTILE_ENTRY)).filter((n) => n.startsWith("pwned-")),
      [],
    );
  });

  it("cannot spawn a process or start a worker thread", () => {
    failedAll(report.spawn, "spawning", "ERR_ACCESS_DENIED");
    assert.equal(report.permission.child, false);
    assert.equal(report.permission.worker, false);
  });

  it("finds no secret in its environment", () => {
    assert.equal(process.env.SKILLGATE_TEST_SECRET, secret, "the gateway side holds the secret (or this test proves nothing)");
    assert.deepEqual(
      report.env.keys.filter((k) => !IPC_ENV.has(k)),
      [],
      "the worker's environment holds more than the IPC channel",
    );
    assert.ok(!report.env.keys.includes("SKILLGATE_TEST_SECRET"));
    assert.ok(!report.env.values.some((v) => v.includes(secret)));
  });

  it("cannot reach the gateway's loopback or the internet when the network namespace wall is up (or reports the wall missing)", async () => {
    // The listener is real: the gateway itself can connect to it.
    const port = input.tcpPort as number;
    await new Promise<void>((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port }, () => {
        s.destroy();
        resolve();
      });
      s.once("error", reject);
    });
    if (pool.walls.networkNamespace) {
      failedAll(report.net, "network");
    } else {
      // No namespace on this host: the pool must say so, and the worker does share the loopback.
      assert.equal(pool.walls.networkNamespace, false);
      assert.equal(report.net["gateway loopback TCP"]?.ok, true, "the wall is reported missing but the loopback is unreachable anyway?");
    }
  });

  it("can only ask the gateway, which refuses every forged capability request the manifest does not allow", async () => {
    const before = events.filter((e) => e.type === "refused").length;
    const forged = await invoke<ForgeReport>({ mode: "forge" });
    failedAll(forged.replies, "forged capability requests", "NOT_CAPABLE");
    assert.deepEqual(handlerCalls, [], "a forged request reached the capability handler");
    assert.equal(events.filter((e) => e.type === "refused").length, before + Object.keys(forged.replies).length - 1, "refusals are reported (except for an unknown invocation)");
  });

  for (const garbage of ["bogus-type", "bad-result", "oversized-call", "non-object"] as const) {
    it(`is killed for a malformed IPC message (${garbage}); the call fails WORKER_CRASHED and the pool restarts the worker`, async () => {
      const pid = pool.workerPid("hostile", invokeSkill.digest);
      const before = await invoke<{ pong: boolean; boot: string }>({ mode: "ping" });
      const crashedBefore = events.filter((e) => e.type === "crashed").length;
      await assert.rejects(invoke({ mode: "garbage", garbage }), (err: unknown) => {
        assert.ok(err instanceof SandboxError, String(err));
        assert.equal(err.code, "WORKER_CRASHED");
        return true;
      });
      const crashed = events.filter((e) => e.type === "crashed");
      assert.equal(crashed.length, crashedBefore + 1);
      assert.equal(crashed.at(-1)?.message, "SIGKILL");
      assert.equal(crashed.at(-1)?.skill, invokeSkill.name);
      const pong = await invoke<{ pong: boolean; boot: string }>({ mode: "ping" });
      assert.equal(pong.pong, true);
      assert.notEqual(pong.boot, before.boot, "the worker that spoke nonsense is still the one answering");
      assert.notEqual(pool.workerPid("hostile", invokeSkill.digest), pid, "the pool did not start a new worker");
    });
  }

  // Walls that do not hold today. Each documents a real gap; they run, and report as TODO.
  it(
    "cannot load a native addon from outside its read list (sqlite3) to read the audit DB or create files",
    () => {
      assert.ok(input.sqliteAddon, "sqlite3's addon is not installed here");
      failedAll(report.addon, "native addon");
      assert.ok(!existsSync(join(stateDir, "pwned-by-sqlite.db")), "sqlite3 created a file in the state dir");
      assert.ok(!JSON.stringify(report.addon).includes(secret), "the audit DB's secret was read");
    },
  );

  it(
    "cannot connect to a Unix socket on the host's file system",
    { todo: "KNOWN WEAKNESS: the network namespace does not cover path-bound Unix sockets, and Node 20's permission model does not check connect()" },
    () => {
      assert.equal(report.unixSocket.ok, false, "connected to a host Unix socket (think /var/run/docker.sock)");
    },
  );

  it(
    "cannot make more capability calls in one invocation than the gateway's cap",
    async () => {
      let handled = 0;
      const capped = await SandboxPool.start({
        size: 1,
        entry: HOSTILE_ENTRY,
        maxCallsPerInvocation: 2,
        capabilityHandler: async () => {
          handled++;
          return null;
        },
      });
      try {
        const out = (await capped.invoke({ session: "flood", skill: invokeSkill, tool: "run", input: { mode: "flood", count: 10 } })).output as { answered: number };
        assert.ok(handled <= 2, `the capability handler ran ${handled} times for one invocation capped at 2 (answered ${out.answered})`);
      } finally {
        await capped.close();
      }
    },
  );

  it(
    "cannot hold a call open past the skill's wall-clock limit by never answering",
    async () => {
      const quick = { ...invokeSkill, digest: "hostile-quick", manifest: { ...invokeSkill.manifest, limits: { ...invokeSkill.manifest.limits, wallMs: 200 } } };
      const hung = await SandboxPool.start({ size: 1, entry: HOSTILE_ENTRY, capabilityHandler: async () => null });
      try {
        const outcome = await Promise.race([
          hung.invoke({ session: "hang", skill: quick, tool: "run", input: { mode: "hang" } }).then(
            () => "answered",
            (err: unknown) => (err instanceof SandboxError ? err.code : String(err)),
          ),
          new Promise<string>((resolve) => setTimeout(() => resolve("still pending"), 4000).unref()),
        ]);
        assert.equal(outcome, "WALL_LIMIT");
      } finally {
        await hung.close();
      }
    },
  );

  it(
    "cannot signal the gateway or other processes of the same user",
    () => {
      failedAll(report.signal, "signals");
    },
  );
});

describe("crash recovery with the real worker", () => {
  const kvManifest = parseManifest(
    JSON.stringify({
      name: "@t/crash",
      version: "1.0.0",
      description: "x",
      entry: "index.js",
      tools: [{ name: "run", description: "x", input: { type: "object" }, effect: "read" }],
      capabilities: { kv: {} },
    }),
  );
  const code = `import { kv } from "skillgate";\nexport async function run(input) { return { got: await kv.get(input.key) }; }\n`;
  const skill: SandboxSkill = { name: kvManifest.name, digest: createHash("sha256").update(code).digest("hex"), code, manifest: kvManifest };

  it("a worker killed mid-call fails that call with WORKER_CRASHED, reports the crash, and the next call works", async () => {
    let entered: () => void = () => {};
    const handlerEntered = new Promise<void>((resolve) => (entered = resolve));
    let release: (value: Json) => void = () => {};
    const gate = new Promise<Json>((resolve) => (release = resolve));
    const events: SandboxEvent[] = [];
    const pool = await SandboxPool.start({
      size: 1,
      capabilityHandler: async (call) => {
        const key = (call.args as { key?: unknown } | null)?.key;
        if (key === "block") {
          entered();
          return gate;
        }
        return { value: typeof key === "string" ? key : null };
      },
      onEvent: (e) => events.push(e),
    });
    try {
      const warm = await pool.invoke({ session: "crash", skill, tool: "run", input: { key: "a" } });
      assert.deepEqual(warm.output, { got: { value: "a" } });
      const pid = pool.workerPid("crash", skill.digest);
      assert.ok(pid);

      const blocked = pool.invoke({ session: "crash", skill, tool: "run", input: { key: "block" } }).then(
        () => undefined,
        (err: unknown) => err,
      );
      await handlerEntered; // the skill is now awaiting a host call that will not return soon
      process.kill(pid, "SIGKILL");
      const err = await blocked;
      assert.ok(err instanceof SandboxError, `the blocked call did not fail with a SandboxError: ${String(err)}`);
      assert.equal(err.code, "WORKER_CRASHED");
      const crashed = events.filter((e) => e.type === "crashed");
      assert.equal(crashed.length, 1);
      assert.equal(crashed[0]?.session, "crash");
      assert.equal(crashed[0]?.skill, skill.name);
      assert.equal(crashed[0]?.message, "SIGKILL");

      release({ late: "reply" }); // answered after the worker died: must go nowhere, harmlessly
      const next = await pool.invoke({ session: "crash", skill, tool: "run", input: { key: "b" } });
      assert.deepEqual(next.output, { got: { value: "b" } });
      assert.equal(next.stats.coldStart, true, "a new worker has no warm isolate");
      const newPid = pool.workerPid("crash", skill.digest);
      assert.ok(newPid && newPid !== pid, "the pool did not start a new worker");
      assert.doesNotThrow(() => process.kill(newPid, 0));
    } finally {
      release(null);
      await pool.close();
    }
  });

  it("a worker killed while idle is replaced, and a call racing its death fails cleanly or succeeds", async () => {
    const events: SandboxEvent[] = [];
    const pool = await SandboxPool.start({ size: 1, capabilityHandler: async () => ({ value: 1 }), onEvent: (e) => events.push(e) });
    try {
      await pool.invoke({ session: "idle", skill, tool: "run", input: { key: "a" } });
      const pid = pool.workerPid("idle", skill.digest) as number;
      process.kill(pid, "SIGKILL");
      const racing = await pool.invoke({ session: "idle", skill, tool: "run", input: { key: "a" } }).then(
        (r) => r.output,
        (err: unknown) => err,
      );
      if (racing instanceof Error) {
        assert.ok(racing instanceof SandboxError, `a call racing the crash failed with ${String(racing)}`);
        assert.equal(racing.code, "WORKER_CRASHED");
      } else {
        assert.deepEqual(racing, { got: { value: 1 } });
      }
      const next = await pool.invoke({ session: "idle", skill, tool: "run", input: { key: "a" } });
      assert.deepEqual(next.output, { got: { value: 1 } });
      assert.notEqual(pool.workerPid("idle", skill.digest), pid);
    } finally {
      await pool.close();
    }
  });
});
