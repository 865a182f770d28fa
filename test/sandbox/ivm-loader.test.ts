import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { ProbeResult } from "../../sandbox/index.js";
import { repoRoot } from "../support/paths.js";

const probe = join(repoRoot(), "dist", "sandbox", "ivm-probe.js");
const major = Number(process.versions.node.split(".")[0]);

function runProbe(flags: string[]): ProbeResult {
  const child = spawnSync(process.execPath, [...flags, probe], { encoding: "utf8", env: {} });
  assert.equal(child.status, 0, `probe exited ${child.status}: ${child.stderr}`);
  return JSON.parse(child.stdout) as ProbeResult;
}

describe("isolated-vm loader", () => {
  it(`loads the line built for Node ${major} and runs code in an isolate`, () => {
    const result = runProbe(["--no-node-snapshot"]);
    assert.equal(result.ok, true, JSON.stringify(result.error));
    assert.equal(result.result, 42);
    if (major <= 20) {
      assert.equal(result.packageName, "isolated-vm-v5");
      assert.equal(result.version, "5.0.4");
    } else if (major >= 24) {
      assert.equal(result.packageName, "isolated-vm");
      assert.match(result.version ?? "", /^6\./);
    } else {
      assert.ok(["isolated-vm", "isolated-vm-v5"].includes(result.packageName ?? ""));
    }
  });

  it("refuses, with a typed error, to load without --no-node-snapshot", () => {
    const result = runProbe([]);
    assert.equal(result.ok, false);
    assert.equal(result.error?.code, "SANDBOX_NEEDS_NO_SNAPSHOT");
  });
});
