// `import m from './focal_loss.wasm'` (workerd) and `'./focal_loss.wasm?module'` (Vercel Edge): the
// host's bundler resolves these to a compiled module; tsup keeps them as relative imports.
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
declare module '*.wasm?module' {
  const module: WebAssembly.Module;
  export default module;
}
