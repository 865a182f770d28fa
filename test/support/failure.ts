import assert from "node:assert/strict";
import { SkillgateError } from "../../runtime/errors.js";

/** The error a call must fail with, checked to be a coded SkillgateError. */
export async function failure(pending: Promise<unknown> | (() => unknown)): Promise<SkillgateError & { details?: Record<string, unknown> }> {
  try {
    await (typeof pending === "function" ? pending() : pending);
  } catch (err) {
    assert.ok(err instanceof SkillgateError, `expected a SkillgateError, got ${String(err)}`);
    return err;
  }
  assert.fail("the call was expected to fail");
}
