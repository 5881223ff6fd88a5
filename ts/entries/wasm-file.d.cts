// The types of the `focal-loss/focal_loss.wasm` and `focal-loss/focal_loss.scalar.wasm` subpaths
// (copied beside each .wasm in dist/ by tsup.config.ts): the raw module files, for tools that load
// them themselves (`require.resolve`, a bundler's asset or `?module` import, `import source`). What an
// import of one gives depends on that tool, hence `unknown`. A declaration file of its own, so that
// TypeScript (and @arethetypeswrong/cli) resolve these subpaths in every mode, CJS like ESM.

/** The raw WebAssembly module file: what importing it gives depends on the tool that loads it. */
declare const wasmFile: unknown;
export = wasmFile;
