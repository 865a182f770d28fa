import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { contextWindow, estimateTokens } from "../../runtime/agent/context-window.js";
import { loadScript } from "../../runtime/agent/load-script.js";
import { ScriptSchema } from "../../runtime/agent/script.js";
import { ScriptedModel } from "../../runtime/agent/scripted-model.js";
import type { StoredMessage } from "../../runtime/state/state-db.js";

const tools = [{ name: "@a/b.get", description: "", input: {} }];
const script = ScriptSchema.parse({
  rules: [
    {
      match: "^fetch (\\w+)$",
      steps: [
        { call: { tool: "@a/b.get", args: { id: "{{1}}", nested: ["{{message}}"] } } },
        { if: { result: '"status":"ok"' }, then: { say: "got {{result.value}}" }, else: { call: [{ tool: "@a/b.get", args: { id: "retry" } }] } },
      ],
    },
  ],
  fallback: "no rule for {{message}}",
});

describe("scripted model", () => {
  it("takes one step per model call, expanding templates into arguments", async () => {
    const model = new ScriptedModel(script);
    const first = await model.complete({ system: "", tools, messages: [{ role: "user", content: "fetch x1" }] });
    assert.equal(first.toolCalls.length, 1);
    assert.deepEqual(JSON.parse(first.toolCalls[0]!.arguments), { id: "x1", nested: ["fetch x1"] });
  });

  it("branches on the previous step's results", async () => {
    const model = new ScriptedModel(script);
    const base: StoredMessage[] = [
      { role: "user", content: "fetch x1" },
      { role: "assistant", content: "", toolCalls: [{ id: "c1", name: "@a/b.get", arguments: "{}" }] },
    ];
    const ok = await model.complete({ system: "", tools, messages: [...base, { role: "tool", content: '{"status":"ok","value":42}', toolCallId: "c1" }] });
    assert.deepEqual(ok, { text: "got 42", toolCalls: [] });
    const bad = await model.complete({ system: "", tools, messages: [...base, { role: "tool", content: '{"status":"denied"}', toolCallId: "c1" }] });
    assert.equal(bad.toolCalls[0]?.arguments, '{"id":"retry"}');
  });

  it("answers with the results once the steps run out, and falls back when no rule matches", async () => {
    const model = new ScriptedModel(script);
    const done = await model.complete({
      system: "",
      tools,
      messages: [
        { role: "user", content: "fetch x1" },
        { role: "assistant", content: "", toolCalls: [] },
        { role: "assistant", content: "", toolCalls: [] },
        { role: "tool", content: '"r"', toolCallId: "c" },
      ],
    });
    assert.equal(done.text, 'Done. "r"');
    const none = await model.complete({ system: "", tools, messages: [{ role: "user", content: "hello" }] });
    assert.equal(none.text, "no rule for hello");
  });

  it("a script file is validated; a bad one fails with one clear line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sg-script-"));
    try {
      writeFileSync(join(dir, "ok.yaml"), "rules:\n  - match: hi\n    steps:\n      - say: hello\n");
      assert.equal((await loadScript(join(dir, "ok.yaml"))).rules.length, 1);
      writeFileSync(join(dir, "bad.yaml"), "rules:\n  - match: '('\n    steps:\n      - say: x\n");
      await assert.rejects(loadScript(join(dir, "bad.yaml")), (e: Error & { code?: string }) => e.code === "SCRIPT_INVALID" && /rules\.0\.match/.test(e.message) && !e.message.includes("\n"));
      writeFileSync(join(dir, "extra.yaml"), "rules: []\nsurprise: 1\n");
      await assert.rejects(loadScript(join(dir, "extra.yaml")), { code: "SCRIPT_INVALID" });
      await assert.rejects(loadScript(join(dir, "missing.yaml")), /ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("context window", () => {
  const long = (n: number): StoredMessage => ({ role: "user", content: "x".repeat(n) });

  it("keeps the newest messages within the token budget, oldest first", () => {
    const messages: StoredMessage[] = [long(400), { role: "assistant", content: "a".repeat(400) }, long(40)];
    const window = contextWindow(messages, estimateTokens(messages[1]!) + estimateTokens(messages[2]!));
    assert.deepEqual(window, messages.slice(1));
  });

  it("always keeps the current turn whole, however large", () => {
    const turn: StoredMessage[] = [
      long(10_000),
      { role: "assistant", content: "", toolCalls: [{ id: "c", name: "t", arguments: "{}" }] },
      { role: "tool", content: "y".repeat(10_000), toolCallId: "c" },
    ];
    assert.deepEqual(contextWindow([long(10), ...turn], 100), turn);
  });

  it("never opens on a tool result whose call was pruned", () => {
    const messages: StoredMessage[] = [
      long(10),
      { role: "assistant", content: "", toolCalls: [{ id: "c", name: "t", arguments: "z".repeat(4000) }] },
      { role: "tool", content: "r", toolCallId: "c" },
      { role: "assistant", content: "done" },
      long(10),
    ];
    const window = contextWindow(messages, 50);
    assert.notEqual(window[0]?.role, "tool");
    assert.equal(window.at(-1), messages.at(-1));
  });
});
