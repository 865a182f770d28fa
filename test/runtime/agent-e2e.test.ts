import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "../support/cli.js";
import { connect, serve, stop } from "../support/gateway.js";

describe("agent turns end to end (real gateway, scripted model, signed example skills, real sandbox)", () => {
  let dir: string;
  let home: string;
  let token: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "sg-agent-"));
    home = join(dir, "home");
    // The demo installs the signed example skills into this state dir.
    const demo = runCli(["--home", home, "--json", "demo"]);
    assert.equal(demo.status, 0, demo.stderr);
    token = readFileSync(join(home, "keys", "operator.token"), "utf8").trim();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a turn calls a tool in the sandbox, answers, streams events, and leaves ordered evidence", async () => {
    const gw = await serve(home);
    try {
      const c = await connect(gw.port, token);
      const res = await c.call("chat.send", { text: "note: buy milk" });
      assert.equal(res.ok, true, JSON.stringify(res));
      assert.equal(res.result?.toolCalls, 1);
      assert.match(String(res.result?.reply), /saved/);
      const events = c.frames.filter((f) => f.type === "event").map((f) => f.event);
      assert.deepEqual(events, ["turn.started", "tool.call", "tool.result", "turn.reply", "turn.done"]);
      const listed = await c.call("chat.send", { text: "list notes" });
      assert.match(String(listed.result?.reply), /buy milk|note /);
      // Two messages to one session run in order, one at a time.
      const [a, b] = await Promise.all([c.call("chat.send", { text: "hello one" }), c.call("chat.send", { text: "hello two" })]);
      assert.match(String(a.result?.reply), /hello one/);
      assert.match(String(b.result?.reply), /hello two/);
      // A sub-agent with a subset of the skills, in the subagent lane, in its own session.
      const delegated = await c.call("chat.send", { text: "delegate: note: buy eggs" });
      assert.equal(delegated.ok, true, JSON.stringify(delegated));
      assert.match(String(delegated.result?.reply), /agent:demo:subagent:[0-9a-f-]{36}/);
      assert.match(String(delegated.result?.reply), /saved/);
      const sessions = (await c.call("sessions.list")).result as unknown as { key: string }[];
      assert.ok(sessions.some((x) => /^agent:demo:subagent:/.test(x.key)));
      const unknown = await c.call("chat.send", { text: "x", agent: "nobody" });
      assert.equal(unknown.error?.code, "BAD_REQUEST");
      c.ws.close();
      // The terminal client, one-shot, against the same gateway.
      const chat = runCli(["--home", home, "--json", "chat", "--url", `ws://127.0.0.1:${gw.port}/ws`, "--message", "list notes"]);
      assert.equal(chat.status, 0, chat.stderr);
      assert.match((JSON.parse(chat.stdout) as { reply: string }).reply, /Done/);
      const status = runCli(["--home", home, "--json", "status", "--url", `ws://127.0.0.1:${gw.port}/ws`]);
      assert.equal(status.status, 0, status.stderr);
      const st = JSON.parse(status.stdout) as { sessions: { key: string }[]; lastCheckpointSize: number | null; walls: { emptyEnvironment: boolean } };
      assert.ok(st.sessions.some((x) => x.key === "agent:demo:main"));
      assert.equal(typeof st.lastCheckpointSize, "number");
      assert.equal(st.walls.emptyEnvironment, true);
    } finally {
      await stop(gw.child);
    }
    const show = runCli(["--home", home, "audit", "show", "--limit", "1000"]);
    const types = show.stdout
      .trim()
      .split("\n")
      .map((l) => l.split("\t").slice(2, 4).join(" "));
    // The demo recorded a scripted turn of its own before; look after the gateway started.
    const start = types.indexOf("saw message.inbound", types.indexOf("system gateway.start"));
    assert.ok(start >= 0);
    assert.deepEqual(types.slice(start, start + 8), [
      "saw message.inbound",
      "decided model.output",
      "decided tool.call",
      "decided policy.decision",
      "touched fs.list",
      "touched fs.write_text",
      "saw tool.result",
      "decided model.output",
    ]);
    assert.equal(runCli(["--home", home, "audit", "verify"]).status, 0);
  });

  it("a signed webhook runs a turn in a fresh hook session; a bad signature is refused and audited", async () => {
    const added = runCli(["--home", home, "--json", "hook", "add", "ci"]);
    assert.equal(added.status, 0, added.stderr);
    const secret = (JSON.parse(added.stdout) as { secret: string }).secret;
    const gw = await serve(home);
    try {
      const post = (body: string, signature: string) =>
        fetch(`http://127.0.0.1:${gw.port}/hooks/ci`, { method: "POST", headers: { "content-type": "application/json", "x-skillgate-signature": signature }, body });
      const body = JSON.stringify({ text: "note: from a webhook" });
      const good = await post(body, `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`);
      assert.equal(good.status, 200);
      const out = (await good.json()) as { session: string; reply: string; toolCalls: number };
      assert.match(out.session, /^hook:[0-9a-f-]{36}$/);
      assert.equal(out.toolCalls, 1);
      const forged = await post(body, `sha256=${createHmac("sha256", "wrong").update(body).digest("hex")}`);
      assert.equal(forged.status, 401);
      const tampered = await post(JSON.stringify({ text: "note: tampered" }), `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`);
      assert.equal(tampered.status, 401);
      const unknown = await fetch(`http://127.0.0.1:${gw.port}/hooks/nope`, { method: "POST", body });
      assert.equal(unknown.status, 401);
    } finally {
      await stop(gw.child);
    }
    const show = runCli(["--home", home, "audit", "show", "--kind", "system"]);
    assert.equal((show.stdout.match(/auth\.failed/g) ?? []).length >= 3, true, show.stdout);
    assert.doesNotMatch(show.stdout, new RegExp(secret), "the hook secret never enters the audit log");
  });

  it("a scripted agent calls two tools, branching on the first result, and answers", async () => {
    writeFileSync(
      join(home, "two-tools.yaml"),
      [
        "rules:",
        "  - match: '^save and list: (.+)$'",
        "    steps:",
        "      - call: { tool: '@demo/notes.write_note', args: { title: 'pair', text: '{{1}}' } }",
        "      - if: { result: 'saved' }",
        "        then: { call: { tool: '@demo/notes.list_notes' } }",
        "        else: { say: 'the write failed: {{result}}' }",
        "      - say: 'listed: {{result.titles}}'",
      ].join("\n"),
    );
    const configPath = join(home, "config.json");
    const config = JSON.parse(readFileSync(configPath, "utf8")) as { agents?: unknown[] };
    config.agents = [{ id: "pair", model: { provider: "scripted", script: "two-tools.yaml" }, skills: ["@demo/notes"] }];
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    const gw = await serve(home);
    try {
      const c = await connect(gw.port, token);
      const res = await c.call("chat.send", { text: "save and list: two tools", agent: "pair" });
      assert.equal(res.ok, true, JSON.stringify(res));
      assert.equal(res.result?.toolCalls, 2);
      assert.match(String(res.result?.reply), /^listed: \[.*"pair".*\]$/);
      const calls = c.frames.filter((f) => f.event === "tool.call").map((f) => f.payload?.tool);
      assert.deepEqual(calls, ["@demo/notes.write_note", "@demo/notes.list_notes"]);
      c.ws.close();
    } finally {
      await stop(gw.child);
      delete config.agents;
      writeFileSync(configPath, JSON.stringify(config, null, 2));
    }
    const show = runCli(["--home", home, "audit", "show", "--session", "agent:pair:main", "--limit", "100"]);
    const types = show.stdout.trim().split("\n").map((l) => l.split("\t").slice(2, 4).join(" "));
    assert.deepEqual(
      types.filter((t) => /message\.inbound|tool\.call|tool\.result|model\.output/.test(t)),
      ["saw message.inbound", "decided model.output", "decided tool.call", "saw tool.result", "decided model.output", "decided tool.call", "saw tool.result", "decided model.output"],
    );
    assert.equal(runCli(["--home", home, "audit", "verify"]).status, 0);
  });

  it("a restart resumes the session's transcript", async () => {
    const gw = await serve(home);
    try {
      const c = await connect(gw.port, token);
      const history = await c.call("chat.history", {});
      const contents = (history.result as unknown as { role: string; content: string }[]).map((m) => m.content);
      assert.ok(contents.includes("note: buy milk"), contents.join(" | "));
      const sessions = await c.call("sessions.list");
      assert.ok((sessions.result as unknown as { key: string }[]).some((s) => s.key === "agent:demo:main"));
      c.ws.close();
    } finally {
      await stop(gw.child);
    }
  });
});
