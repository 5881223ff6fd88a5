// Deno 2 (tested: 2.9.6) gives a source-phase import of a .wasm file as a compiled WebAssembly.Module,
// loaded like any module: no --allow-read, no fetch. Plain JavaScript because TypeScript 5.9 does
// not parse `import source` yet (esbuild does, and keeps it: the .wasm import is external).
import source wasmModule from './focal_loss.wasm';

export default wasmModule;
