//! The small dense linear algebra of SpEED's parameter estimation, in f32 with libvmaf
//! v3.2.0's exact order of operations: eigenvalues of the 25x25 block covariance (Householder
//! tridiagonalisation, then implicit-shift QR, as GSL's `symmtd`/`symm`), and the solution of
//! `K X = Y` by a Householder QR of `K` and back substitution.
//!
//! Where libvmaf mixes in double constants (`1e-6`, `-0.5`, `1.0 / sqrt(..)`), the promotion to
//! f64 and the rounding back to f32 are written out, since they change the last bits.

use crate::cpu::SimdLevel;

/// libvmaf's tolerance for "zero" eigenvalues, sub-diagonal entries and pivots (a double).
pub(crate) const EPS: f64 = 1e-6;
/// The QR iteration cap.
const MAX_ITERS: usize = 500;

fn sign(x: f32) -> f32 {
    if x >= 0.0 {
        1.0
    } else {
        -1.0
    }
}

/// `sqrt(x² + y²)` in f32 (libvmaf's double `sqrt` of a float, rounded back, is `sqrtf`).
fn hypot(x: f32, y: f32) -> f32 {
    (x * x + y * y).sqrt()
}

/// Reflects column `col` below row `start`, returning tau; the scaled reflector is left in
/// place below the diagonal element, which becomes beta.
fn householder(a: &mut [f32], n: usize, col: usize, start: usize) -> f32 {
    if n - start == 1 {
        return 0.0;
    }
    let mut norm = 0.0f32;
    for i in start + 1..n {
        norm += a[i * n + col] * a[i * n + col];
    }
    let xnorm = norm.sqrt();
    if xnorm == 0.0 {
        return 0.0;
    }
    let alpha = a[start * n + col];
    let beta = -sign(alpha) * hypot(alpha, xnorm);
    let tau = (beta - alpha) / beta;
    let s = alpha - beta;
    if s != 0.0 {
        for i in start..n {
            a[i * n + col] /= s;
        }
        a[start * n + col] = beta;
    }
    tau
}

/// Reduces the symmetric `a` (destroyed) to its diagonal `d` and sub-diagonal `sd`.
fn tridiagonalize(a: &mut [f32], n: usize, d: &mut [f32], sd: &mut [f32]) {
    let mut v = [0.0f32; 32];
    let mut x = [0.0f32; 32];
    for i in 0..n.saturating_sub(2) {
        let tau = householder(a, n, i, i + 1);
        for j in i + 1..n {
            v[j] = a[j * n + i];
        }
        if tau != 0.0 {
            a[(i + 1) * n + i] = v[i + 1];
            v[i + 1] = 1.0;
            let s = i + 1;
            for r in s..n {
                let mut acc = 0.0f32;
                for c in s..n {
                    acc += tau * a[r * n + c] * v[c];
                }
                x[r] = acc;
            }
            let mut xv = 0.0f32;
            for r in s..n {
                xv += x[r] * v[r];
            }
            let alpha = (-0.5 * f64::from(tau) * f64::from(xv)) as f32;
            for r in s..n {
                x[r] += alpha * v[r];
            }
            for r in s..n {
                for c in s..n {
                    a[r * n + c] -= x[r] * v[c] + v[r] * x[c];
                }
            }
        }
    }
    for i in 0..n {
        d[i] = a[i * n + i];
    }
    for i in 0..n - 1 {
        sd[i] = a[(i + 1) * n + i];
    }
}

fn chop(d: &[f32], sd: &mut [f32]) {
    let n = d.len();
    for i in 0..n - 1 {
        if f64::from(sd[i].abs()) < EPS * f64::from(d[i].abs() + d[i + 1].abs()) {
            sd[i] = 0.0;
        }
    }
}

fn trailing_eigenvalue(d: &[f32], sd: &[f32]) -> f32 {
    let n = d.len();
    let ta = d[n - 2];
    let tb = d[n - 1];
    let tab = sd[n - 2];
    let dt = (f64::from(ta - tb) / 2.0) as f32;
    if dt > 0.0 {
        tb - tab * (tab / (dt + hypot(dt, tab)))
    } else if dt == 0.0 {
        tb - tab.abs()
    } else {
        tb + tab * (tab / (-dt + hypot(dt, tab)))
    }
}

/// Givens rotation (c, s) zeroing `b` against `a`, with libvmaf's double `1.0 / sqrt`.
fn givens(a: f32, b: f32) -> (f32, f32) {
    if b == 0.0 {
        (1.0, 0.0)
    } else if b.abs() > a.abs() {
        let t = -a / b;
        let s1 = (1.0 / f64::from(1.0 + t * t).sqrt()) as f32;
        (s1 * t, s1)
    } else {
        let t = -b / a;
        let c1 = (1.0 / f64::from(1.0 + t * t).sqrt()) as f32;
        (c1, c1 * t)
    }
}

/// One implicit-shift QR sweep over the unreduced block `d` (`n` long), `sd` (`n - 1`).
fn qr_step(d: &mut [f32], sd: &mut [f32]) {
    let n = d.len();
    let mut mu = trailing_eigenvalue(d, sd);
    if EPS * f64::from(mu.abs()) > f64::from(d[0].abs() + sd[0].abs()) {
        mu = 0.0;
    }
    let mut x = d[0] - mu;
    let mut z = sd[0];
    let mut bk = 0.0f32;
    let mut zk = 0.0f32;
    let mut ap = d[0];
    let mut bp = sd[0];
    let mut aq = d[1];
    if n == 2 {
        let (c, s) = givens(x, z);
        let ap1 = c * (c * ap - s * bp) + s * (s * aq - c * bp);
        let bp1 = c * (s * ap + c * bp) - s * (s * bp + c * aq);
        let aq1 = s * (s * ap + c * bp) + c * (s * bp + c * aq);
        d[0] = ap1;
        sd[0] = bp1;
        d[1] = aq1;
        return;
    }
    let mut bq = sd[1];
    for k in 0..n - 1 {
        let (c, s) = givens(x, z);
        let bk1 = c * bk - s * zk;
        let ap1 = c * (c * ap - s * bp) + s * (s * aq - c * bp);
        let bp1 = c * (s * ap + c * bp) - s * (s * bp + c * aq);
        let zp1 = -s * bq;
        let aq1 = s * (s * ap + c * bp) + c * (s * bp + c * aq);
        let bq1 = c * bq;
        let ak = ap1;
        bk = bp1;
        zk = zp1;
        ap = aq1;
        bp = bq1;
        if k + 2 < n {
            aq = d[k + 2];
        }
        if k + 3 < n {
            bq = sd[k + 2];
        }
        d[k] = ak;
        if k > 0 {
            sd[k - 1] = bk1;
        }
        if k + 2 < n {
            sd[k + 1] = bp;
        }
        x = bk;
        z = zk;
    }
    d[n - 1] = ap;
    sd[n - 2] = bk;
}

/// Eigenvalues of the symmetric `n`x`n` matrix `m` (row-major, `n` ≤ 32) into `out`, in
/// libvmaf's (unsorted) order. `work` must hold `n * n` values.
pub(crate) fn eigenvalues(m: &[f32], n: usize, out: &mut [f32], work: &mut [f32]) {
    if n == 1 {
        out[0] = m[0];
        return;
    }
    let a = &mut work[..n * n];
    a.copy_from_slice(&m[..n * n]);
    let mut d = [0.0f32; 32];
    let mut sd = [0.0f32; 32];
    tridiagonalize(a, n, &mut d, &mut sd);
    let (d, sd) = (&mut d[..n], &mut sd[..n - 1]);
    chop(d, sd);
    let mut b = n - 1;
    let mut iter = 0;
    while b > 0 && iter < MAX_ITERS {
        if sd[b - 1] == 0.0 {
            b -= 1;
            continue;
        }
        let mut a0 = b - 1;
        while a0 > 0 {
            if sd[a0 - 1] == 0.0 {
                break;
            }
            a0 -= 1;
        }
        let (db, sdb) = (&mut d[a0..=b], &mut sd[a0..b]);
        qr_step(db, sdb);
        chop(db, sdb);
        iter += 1;
    }
    out[..n].copy_from_slice(d);
}

/// `out[j] += a * x[j]` (`ADD`) or `out[j] -= x[j] * a`, each element one
/// multiply then one add, written in 8-wide chunks so that it vectorises.
#[inline(always)]
fn axpy<const ADD: bool>(out: &mut [f32], a: f32, x: &[f32]) {
    let len = out.len().min(x.len());
    let (out, x) = (&mut out[..len], &x[..len]);
    let full = len / 8 * 8;
    let (ob, ot) = out.split_at_mut(full);
    let (xb, xt) = x.split_at(full);
    for (o, v) in ob.chunks_exact_mut(8).zip(xb.chunks_exact(8)) {
        let mut acc = [0.0f32; 8];
        acc.copy_from_slice(o);
        let mut vv = [0.0f32; 8];
        vv.copy_from_slice(v);
        for l in 0..8 {
            if ADD {
                acc[l] += a * vv[l];
            } else {
                acc[l] -= vv[l] * a;
            }
        }
        o.copy_from_slice(&acc);
    }
    for (o, &v) in ot.iter_mut().zip(xt) {
        if ADD {
            *o += a * v;
        } else {
            *o -= v * a;
        }
    }
}

/// `dst = x * y` for `n`x`n` matrices, accumulating each element over k in order from zero.
#[inline(always)]
fn mul(dst: &mut [f32], x: &[f32], y: &[f32], n: usize) {
    dst[..n * n].fill(0.0);
    for i in 0..n {
        for k in 0..n {
            axpy::<true>(
                &mut dst[i * n..i * n + n],
                x[i * n + k],
                &y[k * n..k * n + n],
            );
        }
    }
}

fn norm(v: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    for &x in v {
        sum += x * x;
    }
    sum.sqrt()
}

/// Scratch for [`solve`]: four `n`x`n` matrices.
#[derive(Debug, Default)]
pub(crate) struct SolveScratch {
    q: Vec<f32>,
    r: Vec<f32>,
    z: Vec<f32>,
    h: Vec<f32>,
    vec: Vec<f32>,
}

/// Solves `K X = Y` for `X` (`n` x `cols`, row-major) by libvmaf's Householder QR of `K`
/// (`n`x`n`); `qty` receives `Qᵀ Y` as scratch. Returns false where a pivot of R is below
/// [`EPS`], as libvmaf's solver fails.
///
/// At AVX2 and above the same code is compiled for AVX2 (wider vectors of the same separate
/// multiplies and adds: Rust never contracts them into FMAs), so every level is identical.
#[allow(clippy::too_many_arguments)]
pub(crate) fn solve(
    level: SimdLevel,
    k: &[f32],
    n: usize,
    y: &[f32],
    cols: usize,
    x: &mut [f32],
    qty: &mut [f32],
    s: &mut SolveScratch,
) -> bool {
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 | SimdLevel::Avx512 => {
            // SAFETY: the scorer only picks a level the CPU supports.
            unsafe { solve_avx2(k, n, y, cols, x, qty, s) }
        }
        _ => solve_body(k, n, y, cols, x, qty, s),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn solve_avx2(
    k: &[f32],
    n: usize,
    y: &[f32],
    cols: usize,
    x: &mut [f32],
    qty: &mut [f32],
    s: &mut SolveScratch,
) -> bool {
    solve_body(k, n, y, cols, x, qty, s)
}

#[inline(always)]
fn solve_body(
    k: &[f32],
    n: usize,
    y: &[f32],
    cols: usize,
    x: &mut [f32],
    qty: &mut [f32],
    s: &mut SolveScratch,
) -> bool {
    let nn = n * n;
    for b in [&mut s.q, &mut s.r, &mut s.z, &mut s.h] {
        b.clear();
        b.resize(nn, 0.0);
    }
    s.vec.clear();
    s.vec.resize(n, 0.0);
    // z = K, q = I; each step reflects z's k-th column (below row k) onto the diagonal.
    s.z.copy_from_slice(&k[..nn]);
    for i in 0..n {
        s.q[i * n + i] = 1.0;
    }
    for step in 0..n - 1 {
        for i in 0..n {
            for j in 0..n {
                if i < step || j < step {
                    s.z[i * n + j] = if i == j { 1.0 } else { 0.0 };
                }
            }
        }
        for i in 0..n {
            s.vec[i] = s.z[i * n + step];
        }
        let nv = norm(&s.vec);
        s.vec[step] += sign(k[step * n + step]) * nv;
        let nv = norm(&s.vec);
        for v in s.vec.iter_mut() {
            *v /= nv;
        }
        for i in 0..n {
            for j in 0..n {
                s.h[i * n + j] = -2.0 * s.vec[i] * s.vec[j];
            }
        }
        for i in 0..n {
            s.h[i * n + i] += 1.0;
        }
        mul(&mut s.r, &s.h, &s.z, n);
        s.z.copy_from_slice(&s.r);
        mul(&mut s.r, &s.h, &s.q, n);
        s.q.copy_from_slice(&s.r);
    }
    // R = (H_{n-2} .. H_0) K; libvmaf transposes Q twice, so Qᵀ Y uses the product itself.
    mul(&mut s.r, &s.q, k, n);
    let q = &s.q;
    let qty = &mut qty[..n * cols];
    qty.fill(0.0);
    for i in 0..n {
        for kk in 0..n {
            axpy::<true>(
                &mut qty[i * cols..i * cols + cols],
                q[i * n + kk],
                &y[kk * cols..kk * cols + cols],
            );
        }
    }
    let r = &s.r;
    let x = &mut x[..n * cols];
    for i in (0..n).rev() {
        let den = r[i * n + i];
        if f64::from(den.abs()) < EPS {
            return false;
        }
        let (head, below) = x.split_at_mut((i + 1) * cols);
        let row = &mut head[i * cols..];
        row.copy_from_slice(&qty[i * cols..i * cols + cols]);
        for kk in i + 1..n {
            let rik = r[i * n + kk];
            axpy::<false>(row, rik, &below[(kk - i - 1) * cols..(kk - i) * cols]);
        }
        for t in row.iter_mut() {
            *t /= den;
        }
    }
    true
}
