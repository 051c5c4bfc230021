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

/** Rows `rows` of the columns (each indexed by row) against labels y (0/1). */
export function fitLogistic(
  columns: readonly ArrayLike<number>[],
  y: ArrayLike<number>,
  rows: ArrayLike<number>,
  options: LogisticOptions = {},
): LogisticFit {
  const l2 = options.l2 ?? 1;
  const maxIterations = options.maxIterations ?? 50;
  const tolerance = options.tolerance ?? 1e-9;
  const p = columns.length + 1;
  const n = rows.length;
  // CSR of the nonzero cells: column 0 is the intercept, always 1.
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
      const resid = y[rows[r]!]! - mu;
      const w = mu * (1 - mu);
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
