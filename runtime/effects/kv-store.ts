import { SkillgateError } from "../errors.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Per (session, skill) key-value space with the manifest's quota. In memory until the state DB lands. */
export class KvStore {
  private readonly spaces = new Map<string, Map<string, string>>();

  private space(session: string, skill: string): Map<string, string> {
    const id = `${session}\0${skill}`;
    let space = this.spaces.get(id);
    if (!space) this.spaces.set(id, (space = new Map()));
    return space;
  }

  get(session: string, skill: string, key: string): Json {
    const text = this.space(session, skill).get(key);
    return text === undefined ? null : (JSON.parse(text) as Json);
  }

  set(session: string, skill: string, key: string, value: Json, quota: { maxKeys: number; maxBytes: number }): null {
    if (key.length === 0 || key.length > 256) throw new SkillgateError("KV_REFUSED", "keys are 1 to 256 characters");
    const space = this.space(session, skill);
    const text = JSON.stringify(value ?? null);
    if (!space.has(key) && space.size + 1 > quota.maxKeys) throw new SkillgateError("KV_QUOTA", `more than ${quota.maxKeys} keys`);
    let bytes = Buffer.byteLength(key) + Buffer.byteLength(text);
    for (const [k, v] of space) if (k !== key) bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
    if (bytes > quota.maxBytes) throw new SkillgateError("KV_QUOTA", `more than ${quota.maxBytes} bytes`);
    space.set(key, text);
    return null;
  }

  delete(session: string, skill: string, key: string): null {
    this.space(session, skill).delete(key);
    return null;
  }

  keys(session: string, skill: string): string[] {
    return [...this.space(session, skill).keys()].sort();
  }
}
