import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { checkSkillMdAgrees, type ManifestInput, manifestJsonSchema, parseManifest, parseSkillMd, RegistryError } from "../../skills-registry/index.js";
import { repoRoot } from "../support/paths.js";

const base: ManifestInput = {
  name: "@acme/weather",
  version: "1.2.3",
  description: "Weather.",
  entry: "index.js",
  tools: [{ name: "forecast", description: "Forecast.", input: { type: "object" }, effect: "read" }],
};

function refused(change: (m: Record<string, unknown>) => void, field: RegExp): void {
  const m = structuredClone(base) as unknown as Record<string, unknown>;
  change(m);
  assert.throws(
    () => parseManifest(JSON.stringify(m)),
    (err: unknown) => err instanceof RegistryError && err.code === "SKILL_BAD_MANIFEST" && field.test(err.message),
  );
}

describe("skill.json", () => {
  it("fills safe defaults: no capabilities, default limits", () => {
    const m = parseManifest(JSON.stringify(base));
    assert.deepEqual(m.capabilities, { net: [], fs: [], credentials: [] });
    assert.deepEqual(m.limits, { memoryMb: 64, cpuMs: 1000, wallMs: 5000, outputBytes: 1048576 });
  });

  it("refuses what it cannot enforce, naming the field", () => {
    refused((m) => (m.name = "weather"), /^skill\.json: name:/);
    refused((m) => (m.version = "1.2"), /version/);
    refused((m) => (m.entry = "../escape.js"), /entry/);
    refused((m) => (m.entry = "/abs.js"), /entry/);
    refused((m) => (m.surprise = true), /surprise|unrecognized/i);
    refused((m) => (m.capabilities = { net: [{ host: "*" }] }), /capabilities\.net\.0\.host/);
    refused((m) => (m.capabilities = { net: [{ host: "*.com" }] }), /host/);
    refused((m) => (m.capabilities = { net: [{ host: "API.EXAMPLE.COM" }] }), /host/);
    refused((m) => (m.capabilities = { net: [{ host: "a.example.com", paths: ["/v1/../admin"] }] }), /paths/);
    refused((m) => (m.capabilities = { fs: [{ path: "../home", access: ["read"] }] }), /fs\.0\.path/);
    refused((m) => (m.capabilities = { fs: [{ path: "notes", access: [] }] }), /access/);
    refused((m) => (m.capabilities = { credentials: [{ ref: "gh", hosts: ["api.github.com"], inject: { type: "header", name: "Authorization", template: "token" } }] }), /template/);
    refused((m) => (m.capabilities = { exec: true }), /capabilities/);
    refused((m) => (m.tools = [...(base.tools as unknown[]), ...(base.tools as unknown[])]), /unique/);
    refused((m) => (m.tools = [{ name: "x", description: "x", input: { type: "string" }, effect: "read" }]), /input/);
    refused((m) => (m.limits = { memoryMb: 4096 }), /memoryMb/);
  });

  it("accepts the full capability vocabulary", () => {
    const m = parseManifest(
      JSON.stringify({
        ...base,
        capabilities: {
          net: [{ host: "*.example.com", port: 8443, methods: ["GET", "POST"], paths: ["/v1/"] }, { host: "localhost", port: 8080 }],
          fs: [{ path: "notes/", access: ["read", "write"] }],
          credentials: [
            { ref: "github", hosts: ["api.github.com"], inject: { type: "header", name: "Authorization", template: "Bearer {secret}" } },
            { ref: "jira", hosts: ["acme.atlassian.net"], inject: { type: "basic", username: "bot@acme.com" } },
            { ref: "maps", hosts: ["maps.example.com"], inject: { type: "query", param: "key" } },
          ],
          kv: { maxKeys: 10 },
          messages: { to: ["session"] },
        },
      }),
    );
    assert.equal(m.capabilities.net[1]?.port, 8080);
    assert.deepEqual(m.capabilities.net[1]?.methods, ["GET"]);
    assert.equal(m.capabilities.kv?.maxBytes, 1048576);
  });

  it("the committed JSON Schema is the one generated from the zod definition", () => {
    const committed = JSON.parse(readFileSync(join(repoRoot(), "skills-registry", "skill.schema.json"), "utf8")) as unknown;
    assert.deepEqual(committed, JSON.parse(JSON.stringify(manifestJsonSchema())), "run: node dist/runtime/cli/main.js skill schema > skills-registry/skill.schema.json");
  });

  it("every example skill's manifest and SKILL.md are valid and agree", () => {
    for (const name of ["weather", "notes", "github-issues"]) {
      const dir = join(repoRoot(), "examples", "skills", name);
      const manifest = parseManifest(readFileSync(join(dir, "skill.json"), "utf8"));
      checkSkillMdAgrees(parseSkillMd(readFileSync(join(dir, "SKILL.md"), "utf8")), manifest);
    }
  });
});

describe("SKILL.md", () => {
  const manifest = parseManifest(JSON.stringify(base));
  it("reads AgentSkills frontmatter and keeps the body for the model", () => {
    const doc = parseSkillMd("---\nname: weather\ndescription: Weather.\nlicense: MIT\n---\nUse the forecast tool.\n");
    assert.equal(doc.body, "Use the forecast tool.\n");
    assert.equal(doc.frontmatter.license, "MIT");
    checkSkillMdAgrees(doc, manifest);
  });

  it("refuses frontmatter that disagrees with skill.json, or is missing or hostile", () => {
    const code = (text: string) => {
      try {
        checkSkillMdAgrees(parseSkillMd(text), manifest);
        return "accepted";
      } catch (err) {
        return (err as RegistryError).code;
      }
    };
    assert.equal(code("---\nname: other\ndescription: Weather.\n---\n"), "SKILL_BAD_SKILL_MD");
    assert.equal(code("---\nname: weather\ndescription: Something else.\n---\n"), "SKILL_BAD_SKILL_MD");
    assert.equal(code("no frontmatter"), "SKILL_BAD_SKILL_MD");
    assert.equal(code("---\nname: [unclosed\n---\n"), "SKILL_BAD_SKILL_MD");
    const bomb = `---\na: &a [x,x,x,x,x,x,x,x]\n${Array.from({ length: 20 }, (_, i) => `b${i}: &b${i} [*${i === 0 ? "a" : `b${i - 1}`},*${i === 0 ? "a" : `b${i - 1}`}]`).join("\n")}\nname: weather\ndescription: Weather.\n---\n`;
    assert.equal(code(bomb), "SKILL_BAD_SKILL_MD");
  });
});
