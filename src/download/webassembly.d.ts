/**
 * The part of the WebAssembly JavaScript API ./wasm-kernels.ts uses. TypeScript declares it only in
 * its DOM libraries, which this project does not load (they would type browser globals Node lacks).
 */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
  }
  class Instance {
    constructor(module: Module, imports: object);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
  class Global {
    value: number;
  }
}
