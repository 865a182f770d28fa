import { z } from "zod";

/**
 * A scripted model's script: rules matched against the latest user message, each a list of
 * steps the model takes in turn (one step per model call within the turn). A step either
 * calls tools, says something, or branches on the results of the previous step's calls.
 * Strings in `say` and in call arguments are templates: `{{1}}` is a capture group of the
 * rule's match, `{{message}}` the user message, `{{result}}` the previous results joined,
 * `{{result.a.b}}` a field of the last result's JSON, `{{date}}` today's date.
 */
const ToolCallStep = z.object({ tool: z.string().min(1).max(256), args: z.unknown().default({}) }).strict();

type StepShape =
  | { say: string }
  | { call: { tool: string; args: unknown }[] }
  | { if: { result: string }; then: StepShape; else?: StepShape };

export const StepSchema: z.ZodType<StepShape> = z.lazy(() =>
  z.union([
    z.object({ say: z.string().max(65_536) }).strict(),
    z.object({ call: z.union([ToolCallStep, z.array(ToolCallStep).min(1).max(64)]).transform((c) => (Array.isArray(c) ? c : [c])) }).strict(),
    z
      .object({
        if: z.object({ result: z.string().refine(compiles, "not a regular expression") }).strict(),
        then: StepSchema,
        else: StepSchema.optional(),
      })
      .strict(),
  ]),
) as z.ZodType<StepShape>;

function compiles(source: string): boolean {
  try {
    new RegExp(source, "i");
    return true;
  } catch {
    return false;
  }
}

export const ScriptSchema = z
  .object({
    rules: z
      .array(
        z
          .object({
            /** A case-insensitive regular expression over the latest user message. */
            match: z.string().max(4096).refine(compiles, "not a regular expression"),
            steps: z.array(StepSchema).min(1).max(64),
          })
          .strict(),
      )
      .max(1000),
    /** The answer when no rule matches. */
    fallback: z.string().max(65_536).default("I have no script for: {{message}}"),
  })
  .strict();

export type Script = z.infer<typeof ScriptSchema>;
export type Step = StepShape;
