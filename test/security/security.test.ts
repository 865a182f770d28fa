import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runSecuritySuite } from "./suite.js";

describe("containment suite (npm run security)", () => {
  it("contains every attack, lets every benign task through, and every invariant holds", async () => {
    const lines: string[] = [];
    const report = await runSecuritySuite({ log: (line) => lines.push(line) });
    const failures = [...report.cases.filter((c) => c.violations.length), ...report.invariants.filter((i) => i.violations.length)];
    assert.equal(report.ok, true, `\n${lines.join("\n")}\n${JSON.stringify(failures, null, 2)}`);
    assert.ok(report.cases.length >= 25);
    assert.equal(report.falseDenials, 0);
  });
});
