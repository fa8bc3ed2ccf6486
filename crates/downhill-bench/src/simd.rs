//! The hand-written SIMD reference for W2: 8 cells advanced in lock-step
//! with a branch-free polynomial sin/cos that the compiler vectorizes,
//! compiled three times (SSE2, AVX2+FMA, AVX-512) and chosen at run time.
//!
//! sin/cos: `a = k·π/2 + r` with `k = round(a·2/π)` (by the 1.5·2⁵² trick,
//! whose low mantissa bits are `k`), `r` by a three-part Cody–Waite
//! reduction, then the classic fdlibm minimax polynomials on `|r| ≤ π/4`
//! and a quadrant swap and sign flip done with bit masks. Accurate to about
//! an ulp for `|a| < 2²⁰`; beyond that (diverging cells) the value is
//! garbage but finite inputs give finite outputs.

// The constants are fdlibm's, digit for digit as published.
#![allow(clippy::excessive_precision)]

const TWO_OVER_PI: f64 = std::f64::consts::FRAC_2_PI;
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 · 2^52
const PIO2_1: f64 = 1.570_796_326_734_125_614_17; // first 33 bits of π/2
const PIO2_2: f64 = 6.077_100_506_303_965_976_60e-11; // next 33 bits
const PIO2_3: f64 = 2.022_266_248_711_166_455_80e-21; // the rest
const S: [f64; 6] = [
    -1.666_666_666_666_663_243_48e-01,
    8.333_333_333_322_489_461_24e-03,
    -1.984_126_982_985_794_931_34e-04,
    2.755_731_370_707_006_767_89e-06,
    -2.505_076_025_340_686_341_95e-08,
    1.589_690_995_211_550_102_21e-10,
];
const K: [f64; 6] = [
    4.166_666_666_666_660_190_37e-02,
    -1.388_888_888_887_410_957_49e-03,
    2.480_158_728_947_672_941_78e-05,
    -2.755_731_435_139_066_330_35e-07,
    2.087_572_321_298_174_827_90e-09,
    -1.135_964_755_778_819_482_65e-11,
];

/// Number of cells advanced together.
pub const LANES: usize = 8;

#[inline(always)]
fn madd<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `(sin a, cos a)` without branches.
#[inline(always)]
pub fn sincos<const FMA: bool>(a: f64) -> (f64, f64) {
    let t = madd::<FMA>(a, TWO_OVER_PI, ROUND_MAGIC);
    let q = t.to_bits();
    let k = t - ROUND_MAGIC;
    let r = madd::<FMA>(
        -k,
        PIO2_3,
        madd::<FMA>(-k, PIO2_2, madd::<FMA>(-k, PIO2_1, a)),
    );
    let z = r * r;
    let ps = madd::<FMA>(
        z,
        madd::<FMA>(
            z,
            madd::<FMA>(z, madd::<FMA>(z, madd::<FMA>(z, S[5], S[4]), S[3]), S[2]),
            S[1],
        ),
        S[0],
    );
    let sin_r = madd::<FMA>(r * z, ps, r);
    let pc = madd::<FMA>(
        z,
        madd::<FMA>(
            z,
            madd::<FMA>(z, madd::<FMA>(z, madd::<FMA>(z, K[5], K[4]), K[3]), K[2]),
            K[1],
        ),
        K[0],
    );
    let cos_r = madd::<FMA>(z * z, pc, madd::<FMA>(-0.5, z, 1.0));
    // quadrant k mod 4: sin = (s, c, -s, -c), cos = (c, -s, -c, s)
    let swap = 0u64.wrapping_sub(q & 1);
    let (sb, cb) = (sin_r.to_bits(), cos_r.to_bits());
    let sin_sel = (cb & swap) | (sb & !swap);
    let cos_sel = (sb & swap) | (cb & !swap);
    let sin = f64::from_bits(sin_sel ^ ((q & 2) << 62));
    let cos = f64::from_bits(cos_sel ^ ((q.wrapping_add(1) & 2) << 62));
    (sin, cos)
}

/// `steps` GD steps on x cos(c x) for one x0 and the learning rates `etas`,
/// final x into `out`.
#[inline(always)]
fn row<const FMA: bool>(c: f64, x0: f64, etas: &[f64], steps: usize, out: &mut [f64]) {
    for (eta_chunk, out_chunk) in etas.chunks(LANES).zip(out.chunks_mut(LANES)) {
        let m = eta_chunk.len();
        let mut x = [x0; LANES];
        let mut eta = [0.0; LANES];
        eta[..m].copy_from_slice(eta_chunk);
        for _ in 0..steps {
            for k in 0..LANES {
                let (s, co) = sincos::<FMA>(c * x[k]);
                x[k] -= eta[k] * (co - c * x[k] * s);
            }
        }
        out_chunk.copy_from_slice(&x[..m]);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
unsafe fn row_avx512(c: f64, x0: f64, etas: &[f64], steps: usize, out: &mut [f64]) {
    row::<true>(c, x0, etas, steps, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_avx2(c: f64, x0: f64, etas: &[f64], steps: usize, out: &mut [f64]) {
    row::<true>(c, x0, etas, steps, out)
}

fn row_portable(c: f64, x0: f64, etas: &[f64], steps: usize, out: &mut [f64]) {
    row::<false>(c, x0, etas, steps, out)
}

/// Instruction set of a kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// Baseline x86-64 (2 lanes of f64 per instruction).
    Portable,
    /// AVX2 + FMA (4 lanes).
    Avx2,
    /// AVX-512F/DQ + FMA (8 lanes).
    Avx512,
}

impl Isa {
    /// The widest the CPU supports.
    pub fn best() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512dq")
                && is_x86_feature_detected!("fma")
            {
                return Isa::Avx512;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable SSE2",
            Isa::Avx2 => "AVX2+FMA",
            Isa::Avx512 => "AVX-512",
        }
    }

    /// Runs one row with this instruction set (which must be supported:
    /// [`Isa::best`] or below).
    pub fn row(self, c: f64, x0: f64, etas: &[f64], steps: usize, out: &mut [f64]) {
        match self {
            Isa::Portable => row_portable(c, x0, etas, steps, out),
            // SAFETY: only constructed when `best()` detected the features.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { row_avx2(c, x0, etas, steps, out) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { row_avx512(c, x0, etas, steps, out) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => row_portable(c, x0, etas, steps, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polynomial_sincos_matches_libm() {
        let mut worst: f64 = 0.0;
        for i in -20000..=20000 {
            let a = i as f64 * 0.00731;
            let (s, c) = sincos::<false>(a);
            let (s2, c2) = sincos::<true>(a);
            let (es, ec) = a.sin_cos();
            worst = worst
                .max((s - es).abs())
                .max((c - ec).abs())
                .max((s2 - es).abs())
                .max((c2 - ec).abs());
        }
        assert!(worst < 4e-16, "worst error {worst:e}");
    }

    #[test]
    fn kernels_agree_with_scalar_steps() {
        let c = 0.15 * std::f64::consts::PI;
        let etas: Vec<f64> = (0..13).map(|j| 0.01 + 0.02 * j as f64).collect();
        let mut expected = vec![0.0; etas.len()];
        for (e, eta) in expected.iter_mut().zip(&etas) {
            let mut x = 3.0_f64;
            for _ in 0..20 {
                let (s, co) = (c * x).sin_cos();
                x -= eta * (co - c * x * s);
            }
            *e = x;
        }
        for isa in [Isa::Portable, Isa::best()] {
            let mut out = vec![0.0; etas.len()];
            isa.row(c, 3.0, &etas, 20, &mut out);
            for (o, e) in out.iter().zip(&expected) {
                assert!(
                    (o - e).abs() < 1e-9 * (1.0 + e.abs()),
                    "{isa:?}: {o} vs {e}"
                );
            }
        }
    }
}
