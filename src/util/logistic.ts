/**
 * An L2-regularised logistic regression fitted by Newton's method (IRLS), for the
 * scorecard calibrate writes. simple-statistics has no logistic fit, and the
 * scorecard's design is small (tens of 0/1 columns) but long (millions of rows), so
 * each row's nonzero columns are listed once and the Hessian is summed over them.
 *
 * Minimises  −Σ log-likelihood + (l2 / 2) · Σ_{j ≥ 1} βⱼ²  (the intercept β₀ is not
 * shrunk). The penalty also makes the fit defined when columns are collinear (the
 * bins of one measure sum to one) or a column separates the classes.
 */

export interface LogisticFit {
  intercept: number;
  coef: number[];
  iterations: number;
  converged: boolean;
}

export interface LogisticOptions {
  l2?: number;
  maxIterations?: number;
  /** Stop when no coefficient moves by more than this. */
  tolerance?: number;
}

/**
 * Rows `rows` of the columns (each indexed by row) against labels y (0/1).
 *
 * Rows with the same cells are one pattern, fitted once with its count and its
 * churners: the log-likelihood of c identical rows with s churners is
 * s·η − c·log(1 + e^η), so its gradient (s − c·μ) and Hessian (c·μ(1 − μ)) are the
 * rows' sums. The fit is the same; only the order of the floating-point sums differs,
 * which moves a coefficient by rounding noise far below the fit's own tolerance.
 * `group: false` fits row by row (the tests hold both to each other).
 */
export function fitLogistic(
  columns: readonly ArrayLike<number>[],
  y: ArrayLike<number>,
  rows: ArrayLike<number>,
  options: LogisticOptions & { group?: boolean } = {},
): LogisticFit {
  const l2 = options.l2 ?? 1;
  const maxIterations = options.maxIterations ?? 50;
  const tolerance = options.tolerance ?? 1e-9;
  const p = columns.length + 1;
  const { start, idx, val, count, positives } = options.group === false ? rowByRow(columns, y, rows) : designPatterns(columns, y, rows);
  const n = count.length;
  const beta = new Float64Array(p);
  const grad = new Float64Array(p);
  const hess = new Float64Array(p * p);
  let iterations = 0,
    converged = false;
  while (iterations < maxIterations && !converged) {
    iterations++;
    grad.fill(0);
    hess.fill(0);
    for (let r = 0; r < n; r++) {
      let eta = beta[0]!;
      for (let k = start[r]!; k < start[r + 1]!; k++) eta += beta[idx[k]!]! * val[k]!;
      const mu = 1 / (1 + Math.exp(-eta));
      const c = count[r]!;
      const resid = positives[r]! - c * mu;
      const w = c * mu * (1 - mu);
      grad[0] += resid;
      hess[0] += w;
      for (let k = start[r]!; k < start[r + 1]!; k++) {
        const a = idx[k]!,
          xa = val[k]!;
        grad[a] += resid * xa;
        hess[a] += w * xa; // row 0, column a
        for (let m = start[r]!; m < start[r + 1]!; m++) hess[a * p + idx[m]!] += w * xa * val[m]!;
      }
    }
    for (let a = 1; a < p; a++) {
      hess[a * p] = hess[a]!;
      hess[a * p + a] += l2;
      grad[a] -= l2 * beta[a]!;
    }
    const step = solveSymmetric(hess, grad, p);
    let largest = 0;
    for (let a = 0; a < p; a++) {
      beta[a] += step[a]!;
      largest = Math.max(largest, Math.abs(step[a]!));
    }
    converged = largest <= tolerance;
  }
  return { intercept: beta[0]!, coef: Array.from(beta.subarray(1)), iterations, converged };
}

/** The design as sparse rows (CSR of the nonzero cells; column 0 is the intercept, always 1), each with its count and churners. */
interface SparseDesign {
  start: Int32Array;
  idx: Int32Array;
  val: Float64Array;
  count: Float64Array;
  positives: Float64Array;
}

function rowByRow(columns: readonly ArrayLike<number>[], y: ArrayLike<number>, rows: ArrayLike<number>): SparseDesign {
  const n = rows.length;
  const start = new Int32Array(n + 1);
  for (let r = 0; r < n; r++) {
    let c = 0;
    for (let j = 0; j < columns.length; j++) if (columns[j]![rows[r]!] !== 0) c++;
    start[r + 1] = start[r]! + c;
  }
  // Typed arrays: millions of rows × tens of terms would be hundreds of MB as JS arrays.
  const idx = new Int32Array(start[n]!);
  const val = new Float64Array(start[n]!);
  for (let r = 0, k = 0; r < n; r++) {
    const i = rows[r]!;
    for (let j = 0; j < columns.length; j++) {
      const x = columns[j]![i]!;
      if (x !== 0) {
        idx[k] = j + 1;
        val[k++] = x;
      }
    }
  }
  return { start, idx, val, count: new Float64Array(n).fill(1), positives: Float64Array.from(rows, (i) => y[i]!) };
}

/**
 * The distinct rows and how often each occurs, in order of first occurrence. A
 * scorecard's terms are 0/1 and each measure hits at most one of its steps, so rows
 * repeat (at 1M subscribers, 52 terms gave 72k patterns of 676k rows; 119 terms
 * gave 608k). Two passes in typed arrays: each row's pattern through an
 * open-addressing table over a hash of its cells (compared cell by cell with the
 * pattern's first row), then the patterns' cells at their exact size. A key string
 * per row and growing arrays took a quarter more memory than the row-by-row design.
 */
export function designPatterns(columns: readonly ArrayLike<number>[], y: ArrayLike<number>, rows: ArrayLike<number>): SparseDesign {
  const n = rows.length,
    p = columns.length;
  const patternOf = new Int32Array(n);
  let first = new Int32Array(1024),
    hashes = new Int32Array(1024),
    slots = new Int32Array(1 << 12).fill(-1);
  let groups = 0;
  for (let r = 0; r < n; r++) {
    const i = rows[r]!;
    let h = 0x811c9dc5 | 0;
    for (let j = 0; j < p; j++) {
      const x = columns[j]![i]!;
      if (x !== 0) h = Math.imul(h ^ (j + 1), 0x01000193) ^ (x === 1 ? 0 : Math.imul(Math.round(x * 1e6) | 0, 0x01000193));
    }
    let at = h & (slots.length - 1),
      g = -1;
    for (; slots[at] !== -1; at = (at + 1) & (slots.length - 1)) {
      const k = slots[at]!;
      if (hashes[k] !== h) continue;
      const o = first[k]!;
      let j = 0;
      while (j < p && columns[j]![o] === columns[j]![i]) j++;
      if (j === p) {
        g = k;
        break;
      }
    }
    if (g === -1) {
      g = groups++;
      if (g === first.length) {
        first = grown(first);
        hashes = grown(hashes);
      }
      first[g] = i;
      hashes[g] = h;
      slots[at] = g;
      // Kept at most half full: probes stay short.
      if (2 * groups > slots.length) {
        slots = new Int32Array(2 * slots.length).fill(-1);
        for (let k = 0; k < groups; k++) {
          let s = hashes[k]! & (slots.length - 1);
          while (slots[s] !== -1) s = (s + 1) & (slots.length - 1);
          slots[s] = k;
        }
      }
    }
    patternOf[r] = g;
  }
  const count = new Float64Array(groups),
    positives = new Float64Array(groups),
    start = new Int32Array(groups + 1);
  for (let r = 0; r < n; r++) {
    count[patternOf[r]!]++;
    positives[patternOf[r]!] += y[rows[r]!]!;
  }
  for (let g = 0; g < groups; g++) {
    let c = 0;
    for (let j = 0; j < p; j++) if (columns[j]![first[g]!] !== 0) c++;
    start[g + 1] = start[g]! + c;
  }
  const idx = new Int32Array(start[groups]!),
    val = new Float64Array(start[groups]!);
  for (let g = 0, k = 0; g < groups; g++)
    for (let j = 0; j < p; j++) {
      const x = columns[j]![first[g]!]!;
      if (x !== 0) {
        idx[k] = j + 1;
        val[k++] = x;
      }
    }
  return { start, idx, val, count, positives };
}

/** A copy of a, twice as long. */
function grown(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(2 * a.length);
  b.set(a);
  return b;
}

/** x with A x = b for a symmetric positive definite A (p × p, row-major), by Cholesky. */
export function solveSymmetric(A: Float64Array, b: Float64Array, p: number): Float64Array {
  const L = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * p + j]!;
      for (let k = 0; k < j; k++) s -= L[i * p + k]! * L[j * p + k]!;
      if (i === j) {
        // A zero pivot: a column with no observations and no penalty; its step is 0.
        L[i * p + i] = s > 1e-300 ? Math.sqrt(s) : Infinity;
      } else L[i * p + j] = s / L[j * p + j]!;
    }
  }
  const z = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= L[i * p + k]! * z[k]!;
    z[i] = s / L[i * p + i]!;
  }
  const x = new Float64Array(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < p; k++) s -= L[k * p + i]! * x[k]!;
    x[i] = s / L[i * p + i]!;
  }
  return x;
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}
