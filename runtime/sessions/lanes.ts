import { SkillgateError } from "../errors.js";

export type LaneName = "main" | "cron" | "subagent";

export interface LaneCaps {
  main: number;
  cron: number;
  subagent: number;
  /** Runs waiting across all lanes before new ones are refused with BUSY. */
  queueCap: number;
}

export const DEFAULT_LANE_CAPS: LaneCaps = { main: 4, cron: 1, subagent: 8, queueCap: 256 };

export type RunState = "queued" | "running" | "done" | "failed" | "cancelled";

interface Run<T> {
  id: string;
  session: string;
  lane: LaneName;
  state: RunState;
  work: (signal: AbortSignal) => Promise<T>;
  controller: AbortController;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
}

export interface Ticket<T> {
  id: string;
  result: Promise<T>;
  cancel(): void;
  state(): RunState;
}

/**
 * Two levels of scheduling: a session runs one turn at a time, in arrival order, and a
 * global lane caps how many sessions run at once. Waiting runs are FIFO per lane; past
 * the queue cap new runs are refused. Cancelling a queued run drops it; cancelling a
 * running one aborts its signal.
 */
export class LaneScheduler {
  private readonly running = new Map<LaneName, number>([
    ["main", 0],
    ["cron", 0],
    ["subagent", 0],
  ]);
  private readonly busySessions = new Set<string>();
  private readonly queue: Run<unknown>[] = [];
  private nextId = 0;

  constructor(private readonly caps: LaneCaps = DEFAULT_LANE_CAPS) {}

  get waiting(): number {
    return this.queue.length;
  }

  activeIn(lane: LaneName): number {
    return this.running.get(lane) ?? 0;
  }

  submit<T>(session: string, lane: LaneName, work: (signal: AbortSignal) => Promise<T>): Ticket<T> {
    if (this.queue.length >= this.caps.queueCap) throw new SkillgateError("BUSY", `more than ${this.caps.queueCap} runs are waiting`);
    let resolve!: (value: T) => void;
    let reject!: (reason: unknown) => void;
    const result = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const run: Run<T> = { id: `run-${++this.nextId}`, session, lane, state: "queued", work, controller: new AbortController(), resolve, reject };
    this.queue.push(run as Run<unknown>);
    this.pump();
    return {
      id: run.id,
      result,
      state: () => run.state,
      cancel: () => this.cancel(run as Run<unknown>),
    };
  }

  private cancel(run: Run<unknown>): void {
    if (run.state === "queued") {
      this.queue.splice(this.queue.indexOf(run), 1);
      run.state = "cancelled";
      run.reject(new SkillgateError("CANCELLED", "the run was cancelled before it started"));
    } else if (run.state === "running") {
      run.controller.abort(new SkillgateError("CANCELLED", "the run was cancelled"));
    }
  }

  /** Starts every waiting run whose session is idle and whose lane has room, oldest first. */
  private pump(): void {
    // A session whose oldest waiting run cannot start yet holds back its later runs too,
    // even in another lane: a session's turns never overtake each other.
    const heldBack = new Set<string>();
    for (let i = 0; i < this.queue.length; ) {
      const run = this.queue[i] as Run<unknown>;
      if (heldBack.has(run.session) || this.busySessions.has(run.session) || this.activeIn(run.lane) >= this.caps[run.lane]) {
        heldBack.add(run.session);
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.start(run);
    }
  }

  private start(run: Run<unknown>): void {
    run.state = "running";
    this.busySessions.add(run.session);
    this.running.set(run.lane, this.activeIn(run.lane) + 1);
    const finish = (state: RunState) => {
      run.state = state;
      this.busySessions.delete(run.session);
      this.running.set(run.lane, this.activeIn(run.lane) - 1);
      this.pump();
    };
    Promise.resolve()
      .then(() => run.work(run.controller.signal))
      .then(
        (value) => {
          finish("done");
          run.resolve(value);
        },
        (err: unknown) => {
          finish(run.controller.signal.aborted ? "cancelled" : "failed");
          run.reject(err);
        },
      );
  }
}
