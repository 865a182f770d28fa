// Preloaded (--import) into every sandbox worker before its entry runs. --allow-addons
// exists for isolated-vm alone, and native code is outside the permission model: so
// isolated-vm is loaded here, first, and then no other addon can ever be loaded.
import { loadIvm } from "../ivm-loader.js";

try {
  loadIvm();
} catch {
  // The entry reports SANDBOX_UNAVAILABLE when it tries again; addons stay off regardless.
}
Object.defineProperty(process, "dlopen", {
  value: () => {
    throw new Error("loading native addons is disabled in the sandbox worker");
  },
  writable: false,
  configurable: false,
});
