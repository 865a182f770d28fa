/**
 * The part of isolated-vm's API we use, declared once. Two major lines are installed
 * side by side (see ivm-loader.ts) and only one exists on a given Node, so neither
 * package's own typings can be imported unconditionally.
 */
export interface IvmTransferOptions {
  copy?: boolean;
  reference?: boolean;
  promise?: boolean;
  externalCopy?: boolean;
}

export interface IvmReference<T = unknown> {
  readonly typeof: string;
  apply(receiver: unknown, args: unknown[], options?: { timeout?: number; arguments?: IvmTransferOptions; result?: IvmTransferOptions }): Promise<unknown>;
  applySync(receiver: unknown, args: unknown[], options?: { timeout?: number; arguments?: IvmTransferOptions; result?: IvmTransferOptions }): unknown;
  derefInto(): unknown;
  get(property: string, options?: IvmTransferOptions): Promise<unknown>;
  release(): void;
  /** Present for typing only. */
  readonly __value?: T;
}

export interface IvmContext {
  evalSync(code: string, options?: { timeout?: number; copy?: boolean }): unknown;
  evalClosure(code: string, args: unknown[], options?: { timeout?: number; arguments?: IvmTransferOptions; result?: IvmTransferOptions }): Promise<unknown>;
  readonly global: IvmReference;
  release(): void;
}

export interface IvmModuleHandle {
  instantiate(context: IvmContext, resolve: (specifier: string) => IvmModuleHandle | Promise<IvmModuleHandle>): Promise<void>;
  evaluate(options?: { timeout?: number }): Promise<unknown>;
  readonly namespace: IvmReference;
  release(): void;
}

export interface IvmIsolate {
  createContextSync(): IvmContext;
  createContext(): Promise<IvmContext>;
  compileModule(code: string, options?: { filename?: string }): Promise<IvmModuleHandle>;
  dispose(): void;
  readonly isDisposed: boolean;
  readonly cpuTime: bigint;
  readonly wallTime: bigint;
  getHeapStatisticsSync(): { used_heap_size: number; total_heap_size: number };
}

export interface IvmModule {
  Isolate: new (options?: { memoryLimit?: number; onCatastrophicError?: (message: string) => void }) => IvmIsolate;
  Reference: new <T>(value: T) => IvmReference<T>;
}

export interface LoadedIvm {
  /** The npm name it was loaded under: `isolated-vm` (6.x) or `isolated-vm-v5` (5.0.4). */
  packageName: string;
  version: string;
  ivm: IvmModule;
}
