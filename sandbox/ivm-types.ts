/**
 * The part of isolated-vm's API we use, declared once. Two major lines are installed
 * side by side (see ivm-loader.ts) and only one exists on a given Node, so neither
 * package's own typings can be imported unconditionally.
 */
export interface IvmContext {
  evalSync(code: string, options?: { timeout?: number; copy?: boolean }): unknown;
  release(): void;
}

export interface IvmIsolate {
  createContextSync(): IvmContext;
  dispose(): void;
  readonly isDisposed: boolean;
}

export interface IvmModule {
  Isolate: new (options?: { memoryLimit?: number }) => IvmIsolate;
}

export interface LoadedIvm {
  /** The npm name it was loaded under: `isolated-vm` (6.x) or `isolated-vm-v5` (5.0.4). */
  packageName: string;
  version: string;
  ivm: IvmModule;
}
