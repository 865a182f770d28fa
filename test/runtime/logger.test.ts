import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { repoRoot } from "../support/paths.js";

describe("operational logger", () => {
  it("censors credential-like fields wherever they sit", () => {
    const logger = join(repoRoot(), "dist", "runtime", "logger.js");
    const script = `
      const { createLogger } = await import(${JSON.stringify(logger)});
      const log = createLogger({ level: "info" });
      log.info({ token: "tok-SECRET-1", req: { headers: { authorization: "Bearer SECRET-2" } }, cfg: { password: "SECRET-3", apiKey: "SECRET-4" }, host: "api.example.com" }, "request");
    `;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    assert.equal(child.status, 0, child.stderr);
    const line = JSON.parse(child.stderr.trim()) as Record<string, unknown>;
    assert.equal(line.host, "api.example.com");
    assert.equal(line.token, "[REDACTED]");
    assert.doesNotMatch(child.stderr, /SECRET/);
  });
});
