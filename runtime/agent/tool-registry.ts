import type { SandboxSkill } from "../../sandbox/index.js";
import type { ToolSpec } from "./model.js";

export interface ResolvedTool {
  skill: SandboxSkill;
  tool: string;
  effect: "read" | "write" | "external";
}

/** The tools an agent offers the model, named `@scope/skill.tool`, from its enabled skills. */
export class ToolRegistry {
  private readonly tools = new Map<string, ResolvedTool>();

  /** `allowed`: the agent policy's tool list, when it has one; other tools are not offered at all. */
  constructor(
    skills: SandboxSkill[],
    private readonly allowed?: readonly string[],
  ) {
    for (const skill of skills) {
      for (const t of skill.manifest.tools) {
        const name = `${skill.name}.${t.name}`;
        if (!allowed || allowed.includes(name)) this.tools.set(name, { skill, tool: t.name, effect: t.effect });
      }
    }
  }

  /** The same tools restricted to some of the skills: a sub-agent never gets more than its parent. */
  subset(skillNames: string[] | undefined): ToolRegistry {
    const skills = new Map<string, SandboxSkill>();
    for (const t of this.tools.values()) if (!skillNames || skillNames.includes(t.skill.name)) skills.set(t.skill.name, t.skill);
    return new ToolRegistry([...skills.values()], this.allowed);
  }

  skillNames(): string[] {
    return [...new Set([...this.tools.values()].map((t) => t.skill.name))];
  }

  resolve(name: string): ResolvedTool | undefined {
    return this.tools.get(name);
  }

  specs(): ToolSpec[] {
    return [...this.tools.entries()].map(([name, t]) => {
      const spec = t.skill.manifest.tools.find((x) => x.name === t.tool);
      return { name, description: spec?.description ?? "", input: (spec?.input ?? { type: "object" }) as Record<string, unknown> };
    });
  }
}
