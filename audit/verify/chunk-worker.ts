import { parentPort, workerData } from "node:worker_threads";
import { z } from "zod";
import { LogStore } from "../store/log-store.js";
import { type ChunkResult, ChunkTaskSchema, checkChunk } from "./chunk.js";

// A worker thread of a chunked verification: it opens its own read-only connection (WAL
// lets readers run beside the writer) and checks whichever chunks it is sent, until told
// to close. It must close its connection itself: terminating a thread while sqlite3 has
// work in flight aborts the whole process.
const Data = z.object({ path: z.string().min(1) }).strict();
const Message = z.union([z.literal("close"), ChunkTaskSchema]);

const port = parentPort;
if (!port) throw new Error("chunk-worker runs only as a worker thread");
const { path } = Data.parse(workerData);
const ready = LogStore.open(path, { readonly: true });
ready.catch(() => undefined);

port.on("message", (raw: unknown) => {
  const message = Message.parse(raw);
  if (message === "close") {
    void ready
      .then((store) => store.close())
      .catch(() => undefined)
      .finally(() => port.close());
    return;
  }
  void ready
    .then((store) => store.range(message.start, message.end))
    .then(
      (rows) => port.postMessage(checkChunk(message, rows)),
      () => port.postMessage({ ok: false, index: message.index } satisfies ChunkResult),
    );
});
