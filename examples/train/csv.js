// @ts-check
// The demo's CSV reader: feature columns, then an integer label column; an optional header line.
// Pure (no file system): cli.js reads the file and passes the text. Every problem is a DataError whose
// message names the file, the line and what was expected.

export class DataError extends Error {
  constructor(message) {
    super(message);
    this.name = 'DataError';
  }
}

const isNumber = (s) => s.trim() !== '' && Number.isFinite(Number(s));

/**
 * Parses a data set from CSV text. Comma-separated; blank lines and lines starting with `#` are skipped;
 * the first line is a header when any of its fields is not a number. Labels are integers; they are
 * renumbered 0, 1, … in increasing order (their original values become the class names).
 * @param {string} text
 * @param {string} [name]  the file name, for messages
 * @returns {import('./train.js').Dataset}
 */
export function parseCsv(text, name = 'the CSV file') {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  /** @type {{ line: number, fields: string[] }[]} */
  const rows = [];
  let header = null;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const fields = raw.split(',').map((s) => s.trim());
    if (rows.length === 0 && header === null && !fields.every(isNumber)) {
      header = { line: i + 1, fields };
      continue;
    }
    rows.push({ line: i + 1, fields });
  }
  if (rows.length === 0) throw new DataError(`${name} has no data rows`);
  const first = header ?? rows[0];
  const cols = first.fields.length;
  if (cols < 2) {
    throw new DataError(
      `${name}: line ${first.line} has ${cols} column; expected feature columns followed by an integer label column`,
    );
  }
  const dims = cols - 1;
  const n = rows.length;
  const x = new Float64Array(n * dims);
  const labels = new Array(n);
  rows.forEach(({ line, fields }, r) => {
    if (fields.length !== cols) {
      throw new DataError(
        `${name}: line ${line} has ${fields.length} columns, expected ${cols} (as on line ${first.line})`,
      );
    }
    for (let c = 0; c < cols; c++) {
      if (!isNumber(fields[c])) {
        const what = c === dims ? 'the label' : `column ${c + 1}`;
        throw new DataError(`${name}: line ${line}, ${what}: '${fields[c]}' is not a number`);
      }
    }
    for (let d = 0; d < dims; d++) x[r * dims + d] = Number(fields[d]);
    const label = Number(fields[dims]);
    if (!Number.isInteger(label)) {
      throw new DataError(
        `${name}: line ${line}: the label '${fields[dims]}' is not an integer (the last column holds class labels)`,
      );
    }
    labels[r] = label;
  });
  const distinct = [...new Set(labels)].sort((a, b) => a - b);
  if (distinct.length < 2) {
    throw new DataError(`${name}: the label column has only 1 class (${distinct[0]}); classification needs at least 2`);
  }
  const index = new Map(distinct.map((l, i) => [l, i]));
  const y = Int32Array.from(labels, (l) => /** @type {number} */ (index.get(l)));
  const counts = new Array(distinct.length).fill(0);
  for (const c of y) counts[c]++;
  const lonely = counts.findIndex((c) => c < 2);
  if (lonely >= 0) {
    throw new DataError(
      `${name}: class ${distinct[lonely]} has only 1 row; every class needs at least 2 (one to train on, one to test)`,
    );
  }
  return { x, y, n, dims, classes: distinct.length, classNames: distinct.map(String) };
}
