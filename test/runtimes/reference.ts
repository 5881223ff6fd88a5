// Node's own results (this process, the package as `import 'focal-loss'` resolves here): the
// reference every other runtime's bits are compared with.
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import * as api from 'focal-loss';
import { runVectors, type RuntimeReport } from './harness';
import { allVectorsFile, vectorPairs, type Report } from './fixture';

let cached: RuntimeReport | undefined;

export function nodeReference(): RuntimeReport {
  cached ??= runVectors(api, JSON.parse(readFileSync(allVectorsFile(), 'utf8')));
  return cached;
}

/** Every vector case in every dtype checked and within tolerance, and every result bit-identical to Node's. */
export function expectMatchesNode(report: Report): void {
  const reference = nodeReference();
  expect(reference.mismatches).toEqual([]);
  expect(report.mismatches, `${report.runtime}: values outside the tolerance`).toEqual([]);
  expect(report.checked).toBe(vectorPairs());
  const keys = Object.keys(reference.digests);
  expect(Object.keys(report.digests).sort()).toEqual(keys.sort());
  const differ = keys.filter((k) => report.digests[k] !== reference.digests[k]);
  expect(differ, `${report.runtime} ${report.version}: results not bit-identical to Node's`).toEqual([]);
}
