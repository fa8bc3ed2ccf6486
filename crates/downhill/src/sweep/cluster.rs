//! Grouping the settled cells of a sweep by the point they reached.
//!
//! Leader clustering: settled cells are visited in cell order; a cell joins
//! the group of the first leader within `cluster_tol` (max norm) of its
//! final point, or leads a new group. Leaders are found through a hash of
//! the point's first coordinates on a grid of spacing `cluster_tol`, so a
//! million cells take one pass. Unlike single linkage this cannot chain a
//! slow drift of points into one group.

use std::collections::HashMap;

use nalgebra::DMatrix;

use crate::formula::Formula;

use super::{Minimum, Outcome, SweepResult, NO_MINIMUM};

/// What kind of stationary point a group of settled cells sits at, from the
/// eigenvalues `λ` of `∇²f` there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StationaryKind {
    /// Every `λ > 0`.
    Minimum,
    /// Every `λ < 0`.
    Maximum,
    /// Some `λ > 0` and some `λ < 0`.
    Saddle,
    /// Some `λ ≈ 0` and no opposite signs: the second derivatives cannot tell.
    Degenerate,
}

impl StationaryKind {
    /// `minimum`, `maximum`, `saddle` or `degenerate`.
    pub fn name(self) -> &'static str {
        match self {
            StationaryKind::Minimum => "minimum",
            StationaryKind::Maximum => "maximum",
            StationaryKind::Saddle => "saddle",
            StationaryKind::Degenerate => "degenerate",
        }
    }

    /// Classifies a point by the eigenvalues of its row-major Hessian
    /// `hess` (`dim × dim`); eigenvalues within `1e-8 · max(1, max |λ|)`
    /// of 0 count as zero.
    pub fn of_hessian(hess: &[f64], dim: usize) -> StationaryKind {
        let eigen: Vec<f64> = match dim {
            1 => vec![hess[0]],
            2 => {
                let (a, b, c) = (hess[0], 0.5 * (hess[1] + hess[2]), hess[3]);
                let mean = 0.5 * (a + c);
                let r = (0.25 * (a - c) * (a - c) + b * b).sqrt();
                vec![mean + r, mean - r]
            }
            _ => {
                let m = DMatrix::from_row_slice(dim, dim, hess);
                let sym = (&m + m.transpose()) * 0.5;
                sym.symmetric_eigenvalues().iter().copied().collect()
            }
        };
        if eigen.iter().any(|l| !l.is_finite()) {
            return StationaryKind::Degenerate;
        }
        let scale = eigen.iter().fold(1.0_f64, |m, l| m.max(l.abs()));
        let zero = 1e-8 * scale;
        let positive = eigen.iter().filter(|&&l| l > zero).count();
        let negative = eigen.iter().filter(|&&l| l < -zero).count();
        match (positive, negative) {
            (p, 0) if p == eigen.len() => StationaryKind::Minimum,
            (0, q) if q == eigen.len() => StationaryKind::Maximum,
            (p, q) if p > 0 && q > 0 => StationaryKind::Saddle,
            _ => StationaryKind::Degenerate,
        }
    }
}

/// Coordinates hashed for the leader look-up (the rest are compared only).
const HASHED: usize = 3;

/// The minimum id of every cell ([`NO_MINIMUM`] for none) and the groups,
/// ids from 1 in increasing order of their point.
pub(super) fn group(result: &SweepResult, formula: &Formula) -> (Vec<u32>, Vec<Minimum>) {
    let n = result.len();
    let dim = result.variables.len();
    let tol = result.cluster_tol;
    let hashed = dim.min(HASHED);
    // Points too far out to bucket (`|floor(v / tol)| >= 9e15`) are not
    // grouped. The same test without `floor` (a library call on the
    // baseline instruction set), which only the bucket look-up needs:
    // for integer `floor(y)`, `floor(y) < 9e15` iff `y < 9e15`, and
    // `floor(y) > -9e15` iff `y >= 1 - 9e15` (exact in `f64`).
    let bucketable = |x: &[f64]| {
        x[..hashed]
            .iter()
            .all(|v| (1.0 - 9.0e15..9.0e15).contains(&(v / tol)))
    };
    let key = |x: &[f64]| -> [i64; HASHED] {
        let mut k = [0i64; HASHED];
        for (slot, v) in k.iter_mut().zip(&x[..hashed]) {
            *slot = (v / tol).floor() as i64;
        }
        k
    };
    let distance = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .fold(0.0_f64, |m, (p, q)| m.max((p - q).abs()))
    };

    // Leader groups in order of creation: (leader cell, best cell, count).
    let mut groups: Vec<(usize, usize, usize)> = Vec::new();
    let mut buckets: HashMap<[i64; HASHED], Vec<usize>> = HashMap::new();
    let mut assigned = vec![u32::MAX; n];
    // Neighbouring cells mostly reach the same point: try the last group first.
    let mut last: Option<usize> = None;
    for (i, slot) in assigned.iter_mut().enumerate() {
        let settled = match result.outcome[i] {
            Outcome::Converged => true,
            Outcome::Limit | Outcome::Stalled => result.grad_norm[i] <= result.settle,
            Outcome::Diverged | Outcome::Failed => false,
        };
        let x = result.x(i);
        if !settled || !x.iter().all(|v| v.is_finite()) {
            continue;
        }
        if !bucketable(x) {
            continue;
        }
        let mut found = last.filter(|&g| distance(result.x(groups[g].0), x) <= tol);
        let k = if found.is_some() { [0; HASHED] } else { key(x) };
        'search: for offset in 0..3usize.pow(hashed as u32) {
            if found.is_some() {
                break;
            }
            let mut probe = k;
            let mut o = offset;
            for p in probe.iter_mut().take(hashed) {
                *p += (o % 3) as i64 - 1;
                o /= 3;
            }
            if let Some(members) = buckets.get(&probe) {
                for &g in members {
                    if distance(result.x(groups[g].0), x) <= tol {
                        found = Some(g);
                        break 'search;
                    }
                }
            }
        }
        let g = match found {
            Some(g) => {
                let group = &mut groups[g];
                group.2 += 1;
                if result.grad_norm[i] < result.grad_norm[group.1] {
                    group.1 = i;
                }
                g
            }
            None => {
                groups.push((i, i, 1));
                buckets.entry(k).or_default().push(groups.len() - 1);
                groups.len() - 1
            }
        };
        *slot = g as u32;
        last = Some(g);
    }

    // Ids in increasing order of the point.
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by(|&a, &b| {
        let (xa, xb) = (result.x(groups[a].1), result.x(groups[b].1));
        xa.iter()
            .zip(xb)
            .map(|(p, q)| p.total_cmp(q))
            .find(|c| c.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut id_of = vec![0u32; groups.len()];
    let mut grad = vec![0.0; dim];
    let mut hess = vec![0.0; dim * dim];
    let minima: Vec<Minimum> = order
        .iter()
        .enumerate()
        .map(|(rank, &g)| {
            id_of[g] = rank as u32 + 1;
            let (_, best, cells) = groups[g];
            let x = result.x(best).to_vec();
            formula.value_gradient_hessian(&x, &mut grad, &mut hess);
            Minimum {
                id: rank + 1,
                f: result.f[best],
                grad_norm: result.grad_norm[best],
                kind: StationaryKind::of_hessian(&hess, dim),
                x,
                cells,
            }
        })
        .collect();
    let ids = assigned
        .into_iter()
        .map(|g| {
            if g == u32::MAX {
                NO_MINIMUM
            } else {
                id_of[g as usize]
            }
        })
        .collect();
    (ids, minima)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hessian_kinds() {
        use StationaryKind as K;
        assert_eq!(K::of_hessian(&[2.0], 1), K::Minimum);
        assert_eq!(K::of_hessian(&[-2.0], 1), K::Maximum);
        assert_eq!(K::of_hessian(&[0.0], 1), K::Degenerate);
        assert_eq!(K::of_hessian(&[2.0, 0.0, 0.0, -1.0], 2), K::Saddle);
        assert_eq!(K::of_hessian(&[2.0, 1.0, 1.0, 2.0], 2), K::Minimum);
        assert_eq!(K::of_hessian(&[1.0, 0.0, 0.0, 0.0], 2), K::Degenerate);
        let h3 = [1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, -3.0];
        assert_eq!(K::of_hessian(&h3, 3), K::Saddle);
    }
}
