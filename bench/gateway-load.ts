import { performance } from "node:perf_hooks";
import { WebSocket } from "ws";

/**
 * The gateway benchmark's load generator, in its own process so that its work is not
 * billed to the gateway: N WebSocket sessions (one `client` connection each), each sending
 * its turns one after another. Reports every turn's latency to the parent.
 */
const [url, token, sessionsArg, turnsArg] = process.argv.slice(2);
const sessions = Number(sessionsArg);
const turns = Number(turnsArg);

type Frame = { type: string; id?: number; ok?: boolean; error?: { code: string; message: string } };

async function session(index: number): Promise<{ latenciesUs: number[]; errors: string[] }> {
  const ws = new WebSocket(url as string);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const waiting = new Map<number | null, (f: Frame) => void>();
  ws.on("message", (data) => {
    const f = JSON.parse(data.toString()) as Frame;
    if (f.type === "res") waiting.get(f.id ?? null)?.(f);
  });
  const request = (id: number | null, frame: object) =>
    new Promise<Frame>((resolve) => {
      waiting.set(id, resolve);
      ws.send(JSON.stringify(frame));
    });
  await request(null, { type: "connect", protocol: 1, token, client: { name: "bench" }, role: "client" });
  const latenciesUs: number[] = [];
  const errors: string[] = [];
  for (let t = 0; t < turns; t++) {
    const start = performance.now();
    const res = await request(t + 1, { type: "req", id: t + 1, method: "chat.send", params: { text: `bench s${index}t${t}` } });
    latenciesUs.push((performance.now() - start) * 1000);
    if (!res.ok) errors.push(`${res.error?.code}: ${res.error?.message}`);
  }
  ws.close();
  return { latenciesUs, errors };
}

const start = performance.now();
const all = await Promise.all(Array.from({ length: sessions }, (_, i) => session(i)));
const elapsedMs = performance.now() - start;
process.send?.({ elapsedMs, latenciesUs: all.flatMap((s) => s.latenciesUs), errors: all.flatMap((s) => s.errors) });
