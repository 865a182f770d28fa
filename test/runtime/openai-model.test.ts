import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { OpenAIModel, wireToolName } from "../../runtime/agent/openai-model.js";

interface Seen {
  auth: string | undefined;
  body: { model: string; messages: { role: string; content: unknown; tool_calls?: unknown[]; tool_call_id?: string }[]; tools?: { function: { name: string } }[] };
}

/** A loopback stand-in for an OpenAI-compatible endpoint, answering from a queue. */
describe("OpenAI-compatible model client (against a loopback endpoint)", () => {
  let server: Server;
  let baseURL: string;
  const seen: Seen[] = [];
  const replies: unknown[] = [];

  before(async () => {
    server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        seen.push({ auth: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString()) as Seen["body"] });
        const reply = replies.shift();
        if (reply === "error") return void res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "boom sk-secret-echo" } }));
        res.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({ id: "x", object: "chat.completion", created: 0, model: "m", choices: [{ index: 0, finish_reason: "stop", message: reply }] }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  after(() => server.close());

  it("offers namespaced tools under wire-safe names and maps the model's calls back", async () => {
    const model = new OpenAIModel({ model: "test-model", baseURL, apiKey: "sk-test-key" });
    replies.push({ role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "demo__notes--list_notes", arguments: "{}" } }] });
    const out = await model.complete({
      system: "be careful",
      tools: [{ name: "@demo/notes.list_notes", description: "List notes", input: { type: "object" } }],
      messages: [
        { role: "tool", content: "orphan result from a pruned window", toolCallId: "old" },
        { role: "user", content: "list notes" },
      ],
    });
    assert.deepEqual(out.toolCalls, [{ id: "c1", name: "@demo/notes.list_notes", arguments: "{}" }]);
    const req = seen.at(-1) as Seen;
    assert.equal(req.auth, "Bearer sk-test-key");
    assert.equal(req.body.model, "test-model");
    assert.deepEqual(req.body.tools?.map((t) => t.function.name), ["demo__notes--list_notes"]);
    assert.deepEqual(req.body.messages.map((m) => m.role), ["system", "user"], "a window never starts with an orphaned tool result");
    assert.match(wireToolName("@acme/weather.forecast"), /^[a-zA-Z0-9_-]{1,64}$/);
  });

  it("sends a whole exchange back: assistant tool calls, then their results", async () => {
    const model = new OpenAIModel({ model: "m", baseURL, apiKey: "k" });
    replies.push({ role: "assistant", content: "Done." });
    const out = await model.complete({
      system: "s",
      tools: [{ name: "@demo/notes.list_notes", description: "d", input: { type: "object" } }],
      messages: [
        { role: "user", content: "list notes" },
        { role: "assistant", content: "", toolCalls: [{ id: "c1", name: "@demo/notes.list_notes", arguments: "{}" }] },
        { role: "tool", content: "{\"titles\":[]}", toolCallId: "c1" },
      ],
    });
    assert.equal(out.text, "Done.");
    const msgs = (seen.at(-1) as Seen).body.messages;
    assert.deepEqual(msgs[2], { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "demo__notes--list_notes", arguments: "{}" } }] });
    assert.deepEqual(msgs[3], { role: "tool", tool_call_id: "c1", content: "{\"titles\":[]}" });
  });

  it("turns an endpoint failure into one coded line without echoing the response", async () => {
    const model = new OpenAIModel({ model: "m", baseURL, apiKey: "k" });
    replies.push("error", "error");
    await assert.rejects(model.complete({ system: "s", tools: [], messages: [{ role: "user", content: "hi" }] }), (err: unknown) => {
      const e = err as { code?: string; message: string };
      assert.equal(e.code, "MODEL_FAILED");
      assert.doesNotMatch(e.message, /sk-secret-echo/);
      return true;
    });
  });
});
