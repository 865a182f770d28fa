import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openAuditLog } from "../../runtime/audit-log.js";
import type { Resolver } from "../../runtime/broker/pinned-dispatcher.js";
import { loadConfig, saveConfig } from "../../runtime/config/load.js";
import { type RunningGateway, startGateway } from "../../runtime/gateway/running-gateway.js";
import { createLogger } from "../../runtime/logger.js";
import { loadMasterKey } from "../../runtime/secrets/master-key.js";
import { Scrubber } from "../../runtime/secrets/scrubber.js";
import { Vault } from "../../runtime/secrets/vault.js";
import { installExampleSkills } from "../../runtime/skills/example-registry.js";
import { ensureOperatorToken, initState } from "../../runtime/state/init.js";
import { StateDb } from "../../runtime/state/state-db.js";
import type { StatePaths } from "../../runtime/state/state-dir.js";
import { type Connection, connect, type Frame } from "../support/gateway.js";
import { installSignedSkill } from "../support/signed-skill.js";
import { apiRoute, type Fake, okRoute, startFake } from "./fakes.js";
import { apiSkill, attackerSkill, messengerSkill, type Ports, shadowSkill } from "./skills.js";

export type Answer = "allow-once" | "deny" | "silence";

export interface ChatResult {
  reply: string;
  ok: boolean;
  session: string;
  prompts: Frame[];
  frames: Frame[];
  error?: string;
}
export type Rule = { match: string; steps: unknown[] };

export interface World {
  dir: string;
  paths: StatePaths;
  ports: Ports;
  fakes: { api: Fake; sink: Fake; echo: Fake; msg: Fake };
  /** Canary secrets drawn for this run: none may ever leave the broker. */
  canaries: { ref: string; value: string }[];
  logLines: string[];
  gateway: RunningGateway;
  token: string;
  resolverCalls: Map<string, number>;
  /** Sends one message, in a fresh `client` session unless one is given; the operator answers prompts with `decide`. */
  chat(text: string, decide?: (prompt: Frame) => Answer, client?: Connection): Promise<ChatResult>;
  client(): Promise<Connection>;
  operator: Connection;
  close(): Promise<void>;
}

const ADDRESSES: Record<string, string> = { "api.test": "127.0.0.1", "sink.test": "127.0.0.2", "echo.test": "127.0.0.3", "msg.test": "127.0.0.5", "metadata.test": "169.254.169.254" };

/**
 * A hermetic world: a temp state dir with real signed skills, canary secrets in the real
 * vault, loopback fakes for the internet, a resolver that plays DNS (one name rebinds on
 * every other lookup), and the real gateway with real workers and SQLite.
 */
export async function createWorld(rules: Rule[]): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), "sg-security-"));
  const home = join(dir, "home");
  const { paths } = await initState(home);
  let sinkUrl = "";
  const api = await startFake("api", ADDRESSES["api.test"] as string, 0, apiRoute(() => sinkUrl));
  // The sink shares the API's port on another address: a rebinding resolver would land there.
  const sink = await startFake("sink", ADDRESSES["sink.test"] as string, api.port, okRoute);
  sinkUrl = `http://sink.test:${sink.port}`;
  const echo = await startFake("echo", ADDRESSES["echo.test"] as string, 0, (r, res) => res.writeHead(200).end(JSON.stringify(r)));
  const msg = await startFake("msg", ADDRESSES["msg.test"] as string, 0, okRoute);
  const ports: Ports = { api: api.port, echo: echo.port, msg: msg.port, sink: sink.port };

  const log = await openAuditLog(paths, await loadConfig(paths.config));
  try {
    await installExampleSkills(paths, log);
  } finally {
    await log.close();
  }
  for (const skill of [apiSkill(ports), messengerSkill(ports), attackerSkill(ports), shadowSkill()]) installSignedSkill(home, dir, skill);

  const canaries = [
    { ref: "api", value: `sk_canary_${randomBytes(24).toString("base64url")}` },
    { ref: "mail", value: `mail_canary_${randomBytes(24).toString("hex")}` },
  ];
  const state = await StateDb.open(paths.stateDb);
  try {
    const vault = await Vault.open(state, await loadMasterKey(paths.masterKey));
    await vault.set("api", canaries[0]!.value, { hosts: ["api.test", "rebind.test"], skills: ["@sec/api"] });
    await vault.set("mail", canaries[1]!.value, { hosts: ["msg.test"], skills: ["@sec/messenger"] });
  } finally {
    await state.close();
  }

  // Rules name the fakes' ports as {{api}}, {{sink}}, {{echo}}, {{msg}}: known only now.
  const script = JSON.stringify({ rules, fallback: "no rule for {{message}}" }).replace(/\{\{(api|sink|echo|msg)\}\}/g, (_, name: keyof Ports) => String(ports[name]));
  await writeFile(join(home, "security-script.json"), script);
  const config = await loadConfig(paths.config);
  config.agents = [
    {
      ...config.agents[0]!,
      id: "sec",
      model: { provider: "scripted", script: "security-script.json" },
      skills: ["@sec/api", "@sec/messenger", "@sec/attacker", "@sec/shadow", "@demo/notes"],
      maxSteps: 12,
    },
  ];
  config.egress = { ...config.egress, allowPrivateHosts: [...Object.keys(ADDRESSES), "rebind.test"] };
  config.approvals = { timeoutSeconds: 5, maxPendingPerSession: 3, maxPerMinutePerSession: 10 };
  config.lanes = { ...config.lanes, main: 8 };
  await saveConfig(paths.config, config);

  const resolverCalls = new Map<string, number>();
  const resolver: Resolver = async (host) => {
    const n = (resolverCalls.get(host) ?? 0) + 1;
    resolverCalls.set(host, n);
    if (host === "rebind.test") return [{ address: n % 2 === 1 ? "127.0.0.1" : "127.0.0.2", family: 4 }];
    const address = ADDRESSES[host];
    if (!address) throw Object.assign(new Error(`no such host ${host}`), { code: "ENOTFOUND" });
    return [{ address, family: 4 }];
  };

  const logLines: string[] = [];
  const scrubber = new Scrubber();
  const logger = createLogger({ level: "debug", scrub: (line) => scrubber.scrub(line), stream: { write: (line) => void logLines.push(line) } });
  const { token } = await ensureOperatorToken(paths);
  const gateway = await startGateway({ paths, config, logger, scrubber, token, host: "127.0.0.1", port: 0, resolver, limits: { ratePerSecond: 1000 } });
  const port = gateway.gateway.address.port;
  const operator = await connect(port, token, "operator");
  let decider: ((prompt: Frame) => Answer) | undefined;
  const prompts: Frame[] = [];
  operator.ws.on("message", (data) => {
    const f = JSON.parse(data.toString()) as Frame;
    if (f.type !== "event" || f.event !== "approval.requested") return;
    prompts.push(f);
    const answer = decider?.(f) ?? "deny";
    if (answer !== "silence") void operator.call("approval.resolve", { id: f.payload?.id, decision: answer });
  });

  return {
    dir,
    paths,
    ports,
    fakes: { api, sink, echo, msg },
    canaries,
    logLines,
    gateway,
    token,
    resolverCalls,
    operator,
    client: () => connect(port, token, "client"),
    chat: async (text, decide, given) => {
      const client = given ?? (await connect(port, token, "client"));
      decider = decide;
      const before = prompts.length;
      const from = client.frames.length;
      try {
        const res = await client.call("chat.send", { text, agent: "sec" });
        const started = client.frames.slice(from).find((f) => f.event === "turn.started");
        // Every tool result of the turn, as the model saw it, after the final reply.
        const history = ((await client.call("chat.history", { agent: "sec" })).result ?? []) as unknown as { role: string; content: string }[];
        const turn = history.slice(history.findLastIndex((m) => m.role === "user") + 1);
        const results = turn.filter((m) => m.role === "tool").map((m) => m.content);
        return {
          reply: [String(res.result?.reply ?? ""), ...results].join("\n"),
          ok: res.ok === true,
          session: String(started?.payload?.session ?? ""),
          prompts: prompts.slice(before),
          frames: client.frames,
          ...(res.error ? { error: `${res.error.code}: ${res.error.message ?? ""}` } : {}),
        };
      } finally {
        decider = undefined;
        if (!given) client.ws.close();
      }
    },
    close: async () => {
      operator.ws.close();
      await gateway.close();
      for (const f of [api, sink, echo, msg]) await f.close();
    },
  };
}

export async function removeWorld(world: World): Promise<void> {
  await rm(world.dir, { recursive: true, force: true });
}
