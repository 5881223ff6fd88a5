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
// `import m from './focal_loss.wasm?inline'` (the inline entry): tsup.config.ts replaces it, at build
// time, with dist/focal_loss.wasm deflated and base64-encoded (ts/loader.ts: InlinedModule).
declare module '*.wasm?inline' {
  const module: import('../loader.js').InlinedModule;
  export default module;
}
