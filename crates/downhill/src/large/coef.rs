//! Per-coordinate coefficients of a separable objective: `a_i` stored in a
//! vector, or generated from the index so that they cost no memory.

use std::sync::Arc;

use super::mtx::{read_vector, MatrixError};
use super::{LANES, SUB};

/// Where the coefficients `c_0, ..., c_{n-1}` of one coefficient name come from.
#[derive(Clone)]
pub enum Coef {
    /// The same value for every coordinate.
    Constant(f64),
    /// `n` evenly spaced values from `start` to `end` inclusive (numpy's
    /// `linspace`: `start + i·(end − start)/(n − 1)`, the last one exactly `end`).
    Linspace {
        /// `c_0`.
        start: f64,
        /// `c_{n-1}`.
        end: f64,
    },
    /// Pseudo-random values uniform in `[low, high)`, a fixed function of
    /// `(seed, i)` (splitmix64), so a run is reproducible and costs no memory.
    Uniform {
        /// Smallest value.
        low: f64,
        /// Upper end (excluded).
        high: f64,
        /// Seed of the generator.
        seed: u64,
    },
    /// One value per coordinate (`len` must be the dimension).
    Values(Arc<[f64]>),
    /// A generator `i ↦ c_i`, called once per coordinate and evaluation.
    Function(Arc<dyn Fn(usize) -> f64 + Send + Sync>),
}

impl std::fmt::Debug for Coef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Coef::Constant(v) => write!(f, "Constant({v})"),
            Coef::Linspace { start, end } => write!(f, "Linspace({start}, {end})"),
            Coef::Uniform { low, high, seed } => write!(f, "Uniform({low}, {high}, seed {seed})"),
            Coef::Values(v) => write!(f, "Values(len {})", v.len()),
            Coef::Function(_) => write!(f, "Function(..)"),
        }
    }
}

impl Coef {
    /// `Coef::Linspace { start, end }`.
    pub fn linspace(start: f64, end: f64) -> Self {
        Coef::Linspace { start, end }
    }

    /// `Coef::Values` from a vector.
    pub fn values(values: Vec<f64>) -> Self {
        Coef::Values(values.into())
    }

    /// `Coef::Function` from a closure.
    pub fn from_fn(f: impl Fn(usize) -> f64 + Send + Sync + 'static) -> Self {
        Coef::Function(Arc::new(f))
    }

    /// Parses the command-line syntax:
    ///
    /// | text                      | coefficients                          |
    /// |---------------------------|---------------------------------------|
    /// | `2.5` or `const:2.5`      | `c_i = 2.5`                           |
    /// | `linspace:1:2`            | evenly spaced from 1 to 2             |
    /// | `uniform:1:10` / `uniform:1:10:7` | uniform in `[1, 10)`, seed 0 / 7 |
    /// | `file:PATH`               | one number per line, or a Matrix Market array |
    pub fn parse(text: &str) -> Result<Coef, String> {
        let number = |s: &str, what: &str| -> Result<f64, String> {
            let v: f64 = s
                .trim()
                .parse()
                .map_err(|_| format!("{what} '{s}' is not a number"))?;
            if v.is_finite() {
                Ok(v)
            } else {
                Err(format!("{what} '{s}' is not finite"))
            }
        };
        let (kind, rest) = match text.split_once(':') {
            Some((kind, rest)) => (kind.trim(), rest),
            None => return number(text, "the coefficient").map(Coef::Constant),
        };
        match kind {
            "const" | "constant" => number(rest, "the constant").map(Coef::Constant),
            "linspace" => {
                let parts: Vec<&str> = rest.split(':').collect();
                if parts.len() != 2 {
                    return Err(format!(
                        "linspace needs a start and an end: 'linspace:START:END', got '{text}'"
                    ));
                }
                Ok(Coef::Linspace {
                    start: number(parts[0], "the linspace start")?,
                    end: number(parts[1], "the linspace end")?,
                })
            }
            "uniform" => {
                let parts: Vec<&str> = rest.split(':').collect();
                if !(2..=3).contains(&parts.len()) {
                    return Err(format!(
                        "uniform needs bounds and an optional seed: 'uniform:LOW:HIGH[:SEED]', got '{text}'"
                    ));
                }
                let low = number(parts[0], "the uniform lower bound")?;
                let high = number(parts[1], "the uniform upper bound")?;
                let seed = match parts.get(2) {
                    Some(s) => s
                        .trim()
                        .parse()
                        .map_err(|_| format!("the uniform seed '{s}' is not a whole number"))?,
                    None => 0,
                };
                Ok(Coef::Uniform { low, high, seed })
            }
            "file" => read_vector(std::path::Path::new(rest))
                .map(Coef::values)
                .map_err(|e: MatrixError| e.to_string()),
            _ => Err(format!(
                "unknown coefficient source '{kind}' in '{text}': use a number, const:V, linspace:START:END, uniform:LOW:HIGH[:SEED] or file:PATH"
            )),
        }
    }

    /// The number of values a stored vector has (`None` for generated ones).
    pub fn stored_len(&self) -> Option<usize> {
        match self {
            Coef::Values(v) => Some(v.len()),
            _ => None,
        }
    }

    /// `c_i` for a problem of dimension `n`.
    pub fn at(&self, i: usize, n: usize) -> f64 {
        match self {
            Coef::Constant(v) => *v,
            Coef::Linspace { start, end } => linspace_at(*start, *end, i, n),
            Coef::Uniform { low, high, seed } => low + (high - low) * unit(*seed, i as u64),
            Coef::Values(v) => v[i],
            Coef::Function(f) => f(i),
        }
    }

    /// Coefficients `start..start + len` (`len ≤ SUB`) as a slice: the
    /// stored values themselves, or generated into `buf` (once per sub-block,
    /// so the kernels' inner loops see plain slices, not this `match`).
    #[inline(always)]
    pub(crate) fn view<'a>(
        &'a self,
        start: usize,
        len: usize,
        n: usize,
        buf: &'a mut [f64; SUB],
    ) -> &'a [f64] {
        let buf = &mut buf[..len];
        match self {
            Coef::Values(v) => return &v[start..start + len],
            Coef::Constant(v) => buf.fill(*v),
            Coef::Linspace { start: a, end: b } => {
                if n <= i32::MAX as usize {
                    let step = (b - a) / (n.max(2) - 1) as f64;
                    for (k, o) in buf.iter_mut().enumerate() {
                        *o = a + f64::from((start + k) as i32) * step;
                    }
                    if start + len == n && n > 1 {
                        buf[len - 1] = *b;
                    }
                } else {
                    for (k, o) in buf.iter_mut().enumerate() {
                        *o = linspace_at(*a, *b, start + k, n);
                    }
                }
            }
            Coef::Uniform { low, high, seed } => {
                for (k, o) in buf.iter_mut().enumerate() {
                    *o = low + (high - low) * unit(*seed, (start + k) as u64);
                }
            }
            Coef::Function(f) => {
                for (k, o) in buf.iter_mut().enumerate() {
                    *o = f(start + k);
                }
            }
        }
        buf
    }

    /// `c_start, ..., c_{start+LANES-1}` into `out`; indices at or past `n`
    /// repeat `c_{n-1}` (padding lanes, never accumulated).
    #[inline(always)]
    pub(crate) fn fill(&self, start: usize, n: usize, out: &mut [f64; LANES]) {
        if start + LANES <= n {
            match self {
                Coef::Constant(v) => *out = [*v; LANES],
                Coef::Linspace { start: a, end: b } => {
                    // linspace_at, with the step hoisted out of the lanes
                    // and the index converted through i32 (one vector
                    // instruction; exact below 2³¹).
                    let step = (b - a) / (n.max(2) - 1) as f64;
                    if n <= i32::MAX as usize {
                        for (l, o) in out.iter_mut().enumerate() {
                            *o = a + f64::from((start + l) as i32) * step;
                        }
                    } else {
                        for (l, o) in out.iter_mut().enumerate() {
                            *o = a + (start + l) as f64 * step;
                        }
                    }
                    if start + LANES == n {
                        out[LANES - 1] = *b;
                    }
                }
                Coef::Uniform { low, high, seed } => {
                    for (l, o) in out.iter_mut().enumerate() {
                        *o = low + (high - low) * unit(*seed, (start + l) as u64);
                    }
                }
                Coef::Values(v) => out.copy_from_slice(&v[start..start + LANES]),
                Coef::Function(f) => {
                    for (l, o) in out.iter_mut().enumerate() {
                        *o = f(start + l);
                    }
                }
            }
        } else {
            for (l, o) in out.iter_mut().enumerate() {
                *o = self.at((start + l).min(n - 1), n);
            }
        }
    }
}

#[inline]
fn linspace_at(start: f64, end: f64, i: usize, n: usize) -> f64 {
    if n <= 1 {
        return start;
    }
    if i == n - 1 {
        return end;
    }
    let step = (end - start) / (n - 1) as f64;
    start + i as f64 * step
}

/// splitmix64 of `seed·2⁶⁴-ish + i`, as a double in `[0, 1)`.
#[inline]
fn unit(seed: u64, i: u64) -> f64 {
    let mut z = i
        .wrapping_add(seed.wrapping_mul(0xD1B5_4A32_D192_ED03))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_hits_both_ends() {
        let c = Coef::linspace(1.0, 2.0);
        assert_eq!(c.at(0, 5), 1.0);
        assert_eq!(c.at(2, 5), 1.5);
        assert_eq!(c.at(4, 5), 2.0);
        assert_eq!(c.at(0, 1), 1.0);
    }

    #[test]
    fn fill_pads_with_the_last_value() {
        let c = Coef::values(vec![1.0, 2.0, 3.0]);
        let mut out = [0.0; LANES];
        c.fill(0, 3, &mut out);
        assert_eq!(out, [1.0, 2.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0]);
    }

    #[test]
    fn parse_syntax() {
        assert!(matches!(Coef::parse("2.5"), Ok(Coef::Constant(v)) if v == 2.5));
        assert!(matches!(Coef::parse("const:3"), Ok(Coef::Constant(v)) if v == 3.0));
        assert!(matches!(
            Coef::parse("linspace:1:2"),
            Ok(Coef::Linspace { start, end }) if start == 1.0 && end == 2.0
        ));
        assert!(matches!(
            Coef::parse("uniform:1:10:7"),
            Ok(Coef::Uniform { seed: 7, .. })
        ));
        assert!(Coef::parse("linspace:1").unwrap_err().contains("linspace"));
        assert!(Coef::parse("gauss:1:2").unwrap_err().contains("unknown"));
        assert!(Coef::parse("nan").unwrap_err().contains("finite"));
        let u = Coef::parse("uniform:1:10").unwrap();
        let v = u.at(12345, 100_000);
        assert!((1.0..10.0).contains(&v));
    }
}
