import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { WebSocket } from "ws";
import { CLI_PATH } from "./paths.js";

export type Frame = {
  type: string;
  id?: unknown;
  ok?: boolean;
  result?: Record<string, unknown>;
  error?: { code: string; message?: string };
  event?: string;
  payload?: Record<string, unknown>;
};

/** A real gateway process on an ephemeral port; its stderr (pino logs) is collected. */
export async function serve(home: string, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  const child = spawn(process.execPath, [CLI_PATH, "--home", home, "--json", "serve", "--port", "0"], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout as NonNullable<typeof child.stdout> }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  return { child, port: (JSON.parse(line) as { port: number }).port, stderr: () => err };
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill("SIGTERM");
  await new Promise((resolve) => child.once("exit", resolve));
}

export interface Connection {
  ws: WebSocket;
  frames: Frame[];
  call: (method: string, params?: unknown) => Promise<Frame>;
  /** The next event of this name (already received or still to come). */
  nextEvent: (event: string, after?: number) => Promise<Frame>;
}

/** Connects with the operator token in the given role and collects every frame. */
export async function connect(port: number, token: string, role: "client" | "operator" | "admin" = "admin"): Promise<Connection> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const frames: Frame[] = [];
  const waiting = new Map<unknown, (f: Frame) => void>();
  const watchers: { event: string; after: number; resolve: (f: Frame) => void }[] = [];
  ws.on("message", (data) => {
    const f = JSON.parse(data.toString()) as Frame;
    frames.push(f);
    if (f.type === "res") waiting.get(f.id ?? null)?.(f);
    if (f.type === "event") {
      for (const w of [...watchers]) {
        if (w.event === f.event && frames.length - 1 >= w.after) {
          watchers.splice(watchers.indexOf(w), 1);
          w.resolve(f);
        }
      }
    }
  });
  let next = 0;
  const call = (method: string, params?: unknown) =>
    new Promise<Frame>((resolve) => {
      const id = ++next;
      waiting.set(id, resolve);
      ws.send(JSON.stringify({ type: "req", id, method, ...(params === undefined ? {} : { params }) }));
    });
  const nextEvent = (event: string, after = 0) =>
    new Promise<Frame>((resolve) => {
      const seen = frames.slice(after).find((f) => f.type === "event" && f.event === event);
      if (seen) return resolve(seen);
      watchers.push({ event, after, resolve });
    });
  await new Promise<Frame>((resolve) => {
    waiting.set(null, resolve);
    ws.send(JSON.stringify({ type: "connect", protocol: 1, token, client: { name: `e2e-${role}` }, role }));
  });
  return { ws, frames, call, nextEvent };
}
