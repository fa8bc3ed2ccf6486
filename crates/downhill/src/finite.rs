//! Whether every number of a slice is finite, at streaming speed: the
//! checks of the dense Hessian read `n²` numbers per Newton step.
//!
//! `v·0` is 0 for finite `v` and NaN otherwise, and NaN survives a sum, so
//! a NaN total means a non-finite entry. There is no early exit and the
//! sums are eight independent ones: the loop vectorizes (an early exit
//! keeps the compiler from it) and is not held up by the latency of one
//! running sum.

/// Running sums of `v·0` over any number of slices.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FiniteCheck {
    sums: [f64; 8],
}

impl FiniteCheck {
    /// Adds the entries of `values`.
    #[inline]
    pub(crate) fn add(&mut self, values: &[f64]) {
        let chunks = values.chunks_exact(8);
        let rest = chunks.remainder();
        for chunk in chunks {
            for (sum, v) in self.sums.iter_mut().zip(chunk) {
                *sum += v * 0.0;
            }
        }
        // After the chunks: before them, the compiler keeps the sums in
        // rotated lanes and shuffles them every iteration.
        for (sum, v) in self.sums.iter_mut().zip(rest) {
            *sum += v * 0.0;
        }
    }

    /// Whether every entry added so far is finite.
    pub(crate) fn all_finite(&self) -> bool {
        !self.sums.iter().sum::<f64>().is_nan()
    }
}

/// Whether every entry of `values` is finite.
#[inline]
pub(crate) fn all_finite(values: &[f64]) -> bool {
    // A few entries (the chapter's problems): testing them one by one costs
    // less than adding up eight sums at the end.
    if values.len() <= SHORT {
        return values.iter().all(|v| v.is_finite());
    }
    let mut check = FiniteCheck::default();
    check.add(values);
    check.all_finite()
}

/// Up to this many entries [`all_finite`] tests them one by one.
const SHORT: usize = 32;

#[cfg(test)]
mod tests {
    use super::{all_finite, FiniteCheck};

    #[test]
    fn any_non_finite_entry_anywhere_is_found() {
        for len in [0, 1, 7, 8, 9, 23, 32, 33, 64, 71] {
            let values: Vec<f64> = (0..len).map(|i| i as f64 * 1e300 - 3.0).collect();
            assert!(all_finite(&values), "{len}");
            for at in 0..len {
                for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                    let mut v = values.clone();
                    v[at] = bad;
                    assert!(!all_finite(&v), "{len} {at} {bad}");
                }
            }
        }
        let mut check = FiniteCheck::default();
        check.add(&[1.0, f64::MAX]);
        check.add(&[-f64::MAX; 9]);
        assert!(check.all_finite());
        check.add(&[f64::NAN]);
        check.add(&[2.0]);
        assert!(!check.all_finite());
    }
}
