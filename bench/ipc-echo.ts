// Answers every IPC message at once: the bare round-trip floor for bench/sandbox.
process.on("message", (message) => process.send?.(message));
process.send?.({ type: "ready" });
