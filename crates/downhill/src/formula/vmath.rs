//! Branch-free `sin`/`cos`, `exp` and `ln` of one lane, written so that
//! LLVM vectorizes a loop over lanes that inlines them (no table look-ups,
//! no branches): the standard library's functions are scalar calls with
//! branches, which would cost more than all the rest of an evaluation. The
//! lane evaluator calls them inside its own passes over a block of lanes,
//! so that a function's value and its tangent come out of one pass.
//!
//! The kernels are the classic fdlibm ones (Sun Microsystems, 1993, freely
//! redistributable): the same polynomials as glibc's fallbacks, evaluated
//! without the special-case branches. Arguments outside the fast range
//! (huge, tiny, negative for `ln`, infinite, NaN; `*_fast` tells) are
//! rare: the caller recomputes those lanes with the standard library
//! ([`any_outside`] finds them), so every input gets a correct result and
//! none panics.
//!
//! Accuracy (tested against the standard library): within 2 ulp, and 1 ulp
//! on most arguments.
//!
//! `FMA` selects fused multiply-adds: only for builds or `target_feature`
//! functions where the CPU has them (otherwise `mul_add` is a slow library
//! call).

// The kernel constants are written with the digits of their published
// sources; each decimal rounds to the intended double.
#![allow(clippy::excessive_precision)]

use super::LANES;

/// One value per lane.
pub(crate) type V = [f64; LANES];

/// `a * b + c`, fused when `FMA`.
#[inline(always)]
pub(crate) fn fmadd<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `out[l] = f(l)` for every lane, stored in place. `out` is a parameter
/// of its own (`noalias` for LLVM, also once inlined), so the loop is
/// vectorized although `f` reads arrays LLVM cannot tell apart from `out`
/// otherwise. (Computing into a local array and assigning it whole, as
/// before, made LLVM copy every 1 KiB block of a sweep with a `memcpy`
/// call, which cost more than the arithmetic of cheap instructions.)
#[inline(always)]
pub(crate) fn lanewise<const W: usize>(out: &mut [f64; W], f: impl Fn(usize) -> f64) {
    for (l, o) in out.iter_mut().enumerate() {
        *o = f(l);
    }
}

/// `(a[l], b[l]) = f(l)` for every lane, in place as [`lanewise`].
#[inline(always)]
pub(crate) fn lanewise2<const W: usize>(
    a: &mut [f64; W],
    b: &mut [f64; W],
    f: impl Fn(usize) -> (f64, f64),
) {
    for (l, (a, b)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
        (*a, *b) = f(l);
    }
}

/// `out = from`. Through an exclusive-or with an opaque zero: LLVM turns
/// a plain copy loop into a `memcpy` call, whose start-up costs more than
/// the sixteen vector loads and stores of a 1 KiB block (measured: about 7 %
/// of a sweep).
#[inline(always)]
pub(crate) fn copy<const W: usize>(out: &mut [f64; W], from: &[f64; W]) {
    let zero = std::hint::black_box(0u64);
    lanewise(out, |l| f64::from_bits(from[l].to_bits() ^ zero));
}

/// Every lane of `out` set to `v` (opaque, as in [`copy`]: no `memset`).
#[inline(always)]
pub(crate) fn fill<const W: usize>(out: &mut [f64; W], v: f64) {
    let v = std::hint::black_box(v);
    lanewise(out, |_| v);
}

/// `1.5 * 2^52`: adding it rounds a number below `2^51` in magnitude to an
/// integer, which then sits in the low bits of the sum's representation.
const SHIFTER: f64 = 6_755_399_441_055_744.0;

/// True if any lane fails `fast` (`fast` returns false for NaN).
#[inline(always)]
pub(crate) fn any_outside<const W: usize>(x: &[f64; W], fast: impl Fn(f64) -> bool) -> bool {
    x.iter().fold(false, |outside, &v| outside | !fast(v))
}

/// `|v| <= limit`; false for NaN.
#[inline(always)]
fn within(v: f64, limit: f64) -> bool {
    v.abs() <= limit
}

/// Largest `|x|` for the Cody-Waite reduction below (quadrant count below
/// `2^20`, so `q * PIO2_1` is exact).
const TRIG_LIMIT: f64 = 1.0e6;

/// Whether [`sin_cos_lane`] applies to `x` (false for NaN).
#[inline(always)]
pub(crate) fn trig_fast(x: f64) -> bool {
    within(x, TRIG_LIMIT)
}

/// `(sin x, cos x)` of one lane with [`trig_fast`]`(x)` (other arguments
/// get wrong results, without a panic); inlined into a loop over lanes,
/// LLVM vectorizes it.
#[inline(always)]
pub(crate) fn sin_cos_lane<const FMA: bool>(x: f64) -> (f64, f64) {
    const FRAC_2_PI: f64 = std::f64::consts::FRAC_2_PI;
    // pi/2 in three pieces of 33 bits (q times each is exact) and a tail:
    // about 150 bits, enough for arguments near multiples of pi/2.
    const PIO2_1: f64 = 1.570_796_326_734_125_614_17;
    const PIO2_2: f64 = 6.077_100_506_303_965_976_60e-11;
    const PIO2_3: f64 = 2.022_266_248_711_166_455_80e-21;
    const PIO2_3T: f64 = 8.478_427_660_368_899_569_97e-32;
    const S1: f64 = -1.666_666_666_666_663_243_48e-1;
    const S2: f64 = 8.333_333_333_322_489_461_24e-3;
    const S3: f64 = -1.984_126_982_985_794_931_34e-4;
    const S4: f64 = 2.755_731_370_707_006_767_89e-6;
    const S5: f64 = -2.505_076_025_340_686_341_95e-8;
    const S6: f64 = 1.589_690_995_211_550_102_21e-10;
    const C1: f64 = 4.166_666_666_666_660_190_37e-2;
    const C2: f64 = -1.388_888_888_887_410_957_49e-3;
    const C3: f64 = 2.480_158_728_947_672_941_78e-5;
    const C4: f64 = -2.755_731_435_139_066_330_35e-7;
    const C5: f64 = 2.087_572_321_298_174_827_90e-9;
    const C6: f64 = -1.135_964_755_778_819_482_65e-11;

    // q = round(x * 2/pi); its low bits are the quadrant.
    let shifted = fmadd::<FMA>(x, FRAC_2_PI, SHIFTER);
    let quadrant = shifted.to_bits();
    let q = shifted - SHIFTER;
    // q * PIO2_1, q * PIO2_2 and q * PIO2_3 are exact, so a fused
    // multiply-add gives the same bits as a product and a difference, in
    // one instruction instead of two; the tail's product rounds, and fused
    // it is rounded once less.
    let r = fmadd::<FMA>(
        -q,
        PIO2_3T,
        fmadd::<FMA>(
            -q,
            PIO2_3,
            fmadd::<FMA>(-q, PIO2_2, fmadd::<FMA>(-q, PIO2_1, x)),
        ),
    );
    let z = r * r;
    // sin r = r + r^3 (S1 + z S2 + ...)
    let ps = fmadd::<FMA>(
        z,
        fmadd::<FMA>(z, fmadd::<FMA>(z, fmadd::<FMA>(z, S6, S5), S4), S3),
        S2,
    );
    let s = fmadd::<FMA>(z * r, fmadd::<FMA>(z, ps, S1), r);
    // cos r = 1 - z/2 + z^2 (C1 + z C2 + ...), summed as fdlibm does
    // (with the rounding error of 1 - z/2 added back).
    let pc = z * fmadd::<FMA>(
        z,
        fmadd::<FMA>(
            z,
            fmadd::<FMA>(z, fmadd::<FMA>(z, fmadd::<FMA>(z, C6, C5), C4), C3),
            C2,
        ),
        C1,
    );
    let half = 0.5 * z;
    let w = 1.0 - half;
    let c = w + fmadd::<FMA>(z, pc, (1.0 - w) - half);
    // Quadrants 0..3: (s, c), (c, -s), (-s, -c), (-c, s).
    let swap = quadrant & 1 != 0;
    let (sin_r, cos_r) = if swap { (c, s) } else { (s, c) };
    (
        f64::from_bits(sin_r.to_bits() ^ ((quadrant & 2) << 62)),
        f64::from_bits(cos_r.to_bits() ^ ((quadrant.wrapping_add(1) & 2) << 62)),
    )
}

/// Largest `|x|` for the fast `exp` (the scale `2^k` stays normal).
const EXP_LIMIT: f64 = 708.0;

/// Whether [`exp_lane`] applies to `x` (false for NaN).
#[inline(always)]
pub(crate) fn exp_fast(x: f64) -> bool {
    within(x, EXP_LIMIT)
}

/// `exp x` of one lane with [`exp_fast`]`(x)`, as [`sin_cos_lane`].
#[inline(always)]
pub(crate) fn exp_lane<const FMA: bool>(x: f64) -> f64 {
    const LOG2_E: f64 = std::f64::consts::LOG2_E;
    // ln 2 in two pieces; k * LN2_HI is exact for |k| < 2^11.
    const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
    // 1/k! for k = 13 down to 2: the Taylor series of exp on
    // |r| <= ln(2)/2 to below 1e-17 relative.
    const COEFFICIENTS: [f64; 12] = [
        1.0 / 6_227_020_800.0,
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
    ];
    // x = k ln 2 + r
    let shifted = fmadd::<FMA>(x, LOG2_E, SHIFTER);
    let k = shifted - SHIFTER;
    let k_bits = shifted.to_bits().wrapping_sub(SHIFTER.to_bits());
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut p = COEFFICIENTS[0];
    for &c in &COEFFICIENTS[1..] {
        p = fmadd::<FMA>(p, r, c);
    }
    p = fmadd::<FMA>(p, r, 1.0);
    p = fmadd::<FMA>(p, r, 1.0);
    // 2^k, built in the exponent field.
    let scale = f64::from_bits(k_bits.wrapping_add(1023) << 52);
    p * scale
}

/// Whether [`ln_lane`] applies to `x` (false for NaN).
#[inline(always)]
pub(crate) fn ln_fast(x: f64) -> bool {
    (f64::MIN_POSITIVE..=f64::MAX).contains(&x)
}

/// `ln x` of one lane with [`ln_fast`]`(x)`, as [`sin_cos_lane`].
#[inline(always)]
pub(crate) fn ln_lane<const FMA: bool>(x: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
    const LG1: f64 = 6.666_666_666_666_735_130e-1;
    const LG2: f64 = 3.999_999_999_940_941_908e-1;
    const LG3: f64 = 2.857_142_874_366_239_149e-1;
    const LG4: f64 = 2.222_219_843_214_978_396e-1;
    const LG5: f64 = 1.818_357_216_161_805_012e-1;
    const LG6: f64 = 1.531_383_769_920_937_332e-1;
    const LG7: f64 = 1.479_819_860_511_658_591e-1;
    // Moves mantissas at or above sqrt(2)/2 into the next binade, so that
    // x = 2^k m with m in [sqrt(2)/2, sqrt(2)).
    const OFFSET: u64 = 0x3ff0_0000_0000_0000 - 0x3fe6_a09e_667f_3bcd;
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    let bits = x.to_bits();
    let biased = bits.wrapping_add(OFFSET) >> 52;
    let k = f64::from_bits(biased | TWO_52.to_bits()) - (TWO_52 + 1023.0);
    let m = f64::from_bits(bits.wrapping_sub(biased << 52).wrapping_add(1023 << 52));
    // ln(1 + f) = 2s + s R(s^2) with s = f / (2 + f).
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * fmadd::<FMA>(w, fmadd::<FMA>(w, LG6, LG4), LG2);
    let t2 = z * fmadd::<FMA>(w, fmadd::<FMA>(w, fmadd::<FMA>(w, LG7, LG5), LG3), LG1);
    let r = t2 + t1;
    let half_f2 = 0.5 * f * f;
    k * LN2_HI - ((half_f2 - (s * (half_f2 + r) + k * LN2_LO)) - f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place (0 for equal, also NaN = NaN).
    fn ulps(a: f64, b: f64) -> u64 {
        if a.is_nan() && b.is_nan() || a == b {
            return 0;
        }
        if a.is_nan() || b.is_nan() || a.is_sign_negative() != b.is_sign_negative() {
            return u64::MAX;
        }
        a.to_bits().abs_diff(b.to_bits())
    }

    /// Deterministic spread of arguments: many magnitudes, both signs.
    fn arguments(limit: f64) -> Vec<f64> {
        let mut state = 0x2545_F491_4F6C_DD1D_u64;
        let mut out = Vec::new();
        for i in 0..40_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
            // Half uniform in [-limit, limit], half log-uniform magnitudes.
            let value = if i % 2 == 0 {
                (2.0 * unit - 1.0) * limit
            } else {
                let magnitude = (unit * (limit.ln() + 40.0) - 40.0).exp();
                if i % 4 == 1 {
                    magnitude
                } else {
                    -magnitude
                }
            };
            out.push(value);
        }
        out
    }

    const SPECIAL: [f64; 16] = [
        0.0,
        -0.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE,
        5e-324,
        -5e-324,
        1.0,
        -1.0,
        f64::MAX,
        f64::MIN,
        709.7,
        -745.0,
        1e300,
        std::f64::consts::FRAC_PI_2,
    ];

    /// Checks `ours` against `reference` on `args`, lane by lane.
    fn check(
        name: &str,
        args: &[f64],
        ours: impl Fn(&V) -> V,
        reference: impl Fn(f64) -> f64,
        max_ulps: u64,
    ) {
        let mut worst = 0;
        for chunk in args.chunks(LANES) {
            let mut x = [1.0; LANES];
            x[..chunk.len()].copy_from_slice(chunk);
            let y = ours(&x);
            for lane in 0..chunk.len() {
                let expected = reference(x[lane]);
                let error = ulps(y[lane], expected);
                // Tiny results of sin near multiples of pi: compare absolutely.
                let absolute_ok = expected.abs() < 1e-300 && (y[lane] - expected).abs() < 1e-300;
                assert!(
                    error <= max_ulps || absolute_ok,
                    "{name}({:e}) = {:e}, expected {:e} ({error} ulps)",
                    x[lane],
                    y[lane],
                    expected
                );
                worst = worst.max(if absolute_ok { 0 } else { error });
            }
        }
        assert!(worst <= max_ulps, "{name}: worst {worst} ulps");
    }

    fn all_paths(name: &str, args: &[f64], f: fn(&V, bool) -> V, reference: fn(f64) -> f64) {
        check(name, args, |x| f(x, false), reference, 2);
        check(name, args, |x| f(x, true), reference, 2);
    }

    /// Per lane: `kernel` in its fast range, else the standard library's
    /// `exact` (as the lane evaluator does).
    fn per_lane(
        x: &V,
        fast: fn(f64) -> bool,
        kernel: impl Fn(f64) -> f64,
        exact: fn(f64) -> f64,
    ) -> V {
        x.map(|v| if fast(v) { kernel(v) } else { exact(v) })
    }

    fn sin_of(x: &V, fma: bool) -> V {
        let kernel = |v| {
            if fma {
                sin_cos_lane::<true>(v).0
            } else {
                sin_cos_lane::<false>(v).0
            }
        };
        per_lane(x, trig_fast, kernel, f64::sin)
    }
    fn cos_of(x: &V, fma: bool) -> V {
        let kernel = |v| {
            if fma {
                sin_cos_lane::<true>(v).1
            } else {
                sin_cos_lane::<false>(v).1
            }
        };
        per_lane(x, trig_fast, kernel, f64::cos)
    }
    fn exp_of(x: &V, fma: bool) -> V {
        let kernel = |v| {
            if fma {
                exp_lane::<true>(v)
            } else {
                exp_lane::<false>(v)
            }
        };
        per_lane(x, exp_fast, kernel, f64::exp)
    }
    fn ln_of(x: &V, fma: bool) -> V {
        let kernel = |v| {
            if fma {
                ln_lane::<true>(v)
            } else {
                ln_lane::<false>(v)
            }
        };
        per_lane(x, ln_fast, kernel, f64::ln)
    }

    #[test]
    fn sin_and_cos_within_two_ulps() {
        let mut args = arguments(1e4);
        args.extend(SPECIAL);
        args.extend(arguments(2e6));
        // Near multiples of pi/2, where the reduction loses the most.
        args.extend((1..2000).map(|k| f64::from(k) * std::f64::consts::FRAC_PI_2));
        args.extend([355.0, 103_993.0, 1e22, -1e22, 3.0e5, 1e6, -1e6, 1.0000001e6]);
        all_paths("sin", &args, sin_of, f64::sin);
        all_paths("cos", &args, cos_of, f64::cos);
    }

    #[test]
    fn exp_within_two_ulps() {
        let mut args = arguments(750.0);
        args.extend(SPECIAL);
        args.extend([
            708.0, -708.0, 708.5, -708.5, 709.78, 709.79, -744.0, -746.0, 1e-20,
        ]);
        all_paths("exp", &args, exp_of, f64::exp);
    }

    #[test]
    fn ln_within_two_ulps() {
        let mut args: Vec<f64> = arguments(1e300).into_iter().map(f64::abs).collect();
        args.extend(arguments(1e4));
        args.extend(SPECIAL);
        args.extend([
            1.0 - 1e-16,
            1.0 + 2e-16,
            std::f64::consts::FRAC_1_SQRT_2,
            std::f64::consts::SQRT_2,
            2.0,
            0.5,
        ]);
        all_paths("ln", &args, ln_of, f64::ln);
    }
}
