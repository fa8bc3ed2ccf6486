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
/// before, made LLVM copy every block of a sweep with a `memcpy`
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
/// the few dozen vector loads and stores of a block (measured with 1 KiB
/// blocks: about 7 % of a sweep).
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

/// Each number of `a` through [`std::hint::black_box`] (inlined, unlike
/// `a.map(black_box)`).
#[inline(always)]
fn hide_all<const N: usize>(mut a: [f64; N]) -> [f64; N] {
    for v in &mut a {
        *v = std::hint::black_box(*v);
    }
    a
}

/// The constants of [`sin_cos_lane`], passed in rather than written
/// inline: see [`TrigConstants::opaque`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct TrigConstants {
    frac_2_pi: f64,
    shifter: f64,
    /// pi/2 in three pieces of 33 bits (q times each is exact) and a tail:
    /// about 150 bits, enough for arguments near multiples of pi/2.
    pio2: [f64; 4],
    /// sin r = r + r^3 (S1 + z S2 + ...), S1 first.
    sin: [f64; 6],
    /// cos r = 1 - z/2 + z^2 (C1 + z C2 + ...), C1 first.
    cos: [f64; 6],
    half: f64,
    one: f64,
}

impl TrigConstants {
    /// fdlibm's constants, digit for digit.
    const FDLIBM: TrigConstants = TrigConstants {
        frac_2_pi: std::f64::consts::FRAC_2_PI,
        shifter: SHIFTER,
        pio2: [
            1.570_796_326_734_125_614_17,
            6.077_100_506_303_965_976_60e-11,
            2.022_266_248_711_166_455_80e-21,
            8.478_427_660_368_899_569_97e-32,
        ],
        sin: [
            -1.666_666_666_666_663_243_48e-1,
            8.333_333_333_322_489_461_24e-3,
            -1.984_126_982_985_794_931_34e-4,
            2.755_731_370_707_006_767_89e-6,
            -2.505_076_025_340_686_341_95e-8,
            1.589_690_995_211_550_102_21e-10,
        ],
        cos: [
            4.166_666_666_666_660_190_37e-2,
            -1.388_888_888_887_410_957_49e-3,
            2.480_158_728_947_672_941_78e-5,
            -2.755_731_435_139_066_330_35e-7,
            2.087_572_321_298_174_827_90e-9,
            -1.135_964_755_778_819_482_65e-11,
        ],
        half: 0.5,
        one: 1.0,
    };

    /// The constants as values LLVM cannot see through, to be taken once
    /// before a loop over lanes. Written inline, each constant becomes a
    /// broadcast from the constant pool inside the vectorized loop (with
    /// AVX2 LLVM splats constants by `vbroadcastsd`, which cannot be folded
    /// into the arithmetic, and it does not hoist them): 22 of the sin/cos
    /// loop's 64 instructions. Opaque, they are broadcast once before the
    /// loop and either stay in registers or are spilled and read back as
    /// memory operands of the instructions that use them, which costs no
    /// instruction of its own.
    #[inline(always)]
    pub(crate) fn opaque() -> TrigConstants {
        // One number at a time: an opaque struct would be read from memory
        // inside the loop, which keeps LLVM from vectorizing it.
        let hide = std::hint::black_box::<f64>;
        let k = Self::FDLIBM;
        TrigConstants {
            frac_2_pi: hide(k.frac_2_pi),
            shifter: hide(k.shifter),
            pio2: hide_all(k.pio2),
            sin: hide_all(k.sin),
            cos: hide_all(k.cos),
            half: hide(k.half),
            one: hide(k.one),
        }
    }
}

/// `(sin x, cos x)` of one lane with [`trig_fast`]`(x)` (other arguments
/// get wrong results, without a panic); inlined into a loop over lanes,
/// LLVM vectorizes it. `k` is [`TrigConstants::opaque`].
#[inline(always)]
pub(crate) fn sin_cos_lane<const FMA: bool>(x: f64, k: &TrigConstants) -> (f64, f64) {
    let [pio2_1, pio2_2, pio2_3, pio2_3t] = k.pio2;
    let [s1, s2, s3, s4, s5, s6] = k.sin;
    let [c1, c2, c3, c4, c5, c6] = k.cos;

    // q = round(x * 2/pi); its low bits are the quadrant.
    let shifted = fmadd::<FMA>(x, k.frac_2_pi, k.shifter);
    let quadrant = shifted.to_bits();
    let q = shifted - k.shifter;
    // q * PIO2_1, q * PIO2_2 and q * PIO2_3 are exact, so a fused
    // multiply-add gives the same bits as a product and a difference, in
    // one instruction instead of two; the tail's product rounds, and fused
    // it is rounded once less.
    let r = fmadd::<FMA>(
        -q,
        pio2_3t,
        fmadd::<FMA>(
            -q,
            pio2_3,
            fmadd::<FMA>(-q, pio2_2, fmadd::<FMA>(-q, pio2_1, x)),
        ),
    );
    let z = r * r;
    // sin r = r + r^3 (S1 + z S2 + ...)
    let ps = fmadd::<FMA>(
        z,
        fmadd::<FMA>(z, fmadd::<FMA>(z, fmadd::<FMA>(z, s6, s5), s4), s3),
        s2,
    );
    let s = fmadd::<FMA>(z * r, fmadd::<FMA>(z, ps, s1), r);
    // cos r = 1 - z/2 + z^2 (C1 + z C2 + ...), summed as fdlibm does
    // (with the rounding error of 1 - z/2 added back).
    let pc = z * fmadd::<FMA>(
        z,
        fmadd::<FMA>(
            z,
            fmadd::<FMA>(z, fmadd::<FMA>(z, fmadd::<FMA>(z, c6, c5), c4), c3),
            c2,
        ),
        c1,
    );
    let half = k.half * z;
    let w = k.one - half;
    let c = w + fmadd::<FMA>(z, pc, (k.one - w) - half);
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

/// The constants of [`exp_lane`], as [`TrigConstants`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct ExpConstants {
    log2_e: f64,
    shifter: f64,
    /// ln 2 in two pieces; k * LN2_HI is exact for |k| < 2^11.
    ln2: [f64; 2],
    /// 1/k! for k = 13 down to 2: the Taylor series of exp on
    /// |r| <= ln(2)/2 to below 1e-17 relative.
    taylor: [f64; 12],
    one: f64,
}

impl ExpConstants {
    const FDLIBM: ExpConstants = ExpConstants {
        log2_e: std::f64::consts::LOG2_E,
        shifter: SHIFTER,
        ln2: [
            6.931_471_803_691_238_164_90e-1,
            1.908_214_929_270_587_700_02e-10,
        ],
        taylor: [
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
        ],
        one: 1.0,
    };

    /// As [`TrigConstants::opaque`].
    #[inline(always)]
    pub(crate) fn opaque() -> ExpConstants {
        let hide = std::hint::black_box::<f64>;
        let k = Self::FDLIBM;
        ExpConstants {
            log2_e: hide(k.log2_e),
            shifter: hide(k.shifter),
            ln2: hide_all(k.ln2),
            taylor: hide_all(k.taylor),
            one: hide(k.one),
        }
    }
}

/// `exp x` of one lane with [`exp_fast`]`(x)`, as [`sin_cos_lane`]; `k`
/// is [`ExpConstants::opaque`].
#[inline(always)]
pub(crate) fn exp_lane<const FMA: bool>(x: f64, k: &ExpConstants) -> f64 {
    let [ln2_hi, ln2_lo] = k.ln2;
    // x = q ln 2 + r
    let shifted = fmadd::<FMA>(x, k.log2_e, k.shifter);
    let q = shifted - k.shifter;
    let q_bits = shifted.to_bits().wrapping_sub(SHIFTER.to_bits());
    let r = (x - q * ln2_hi) - q * ln2_lo;
    let mut p = k.taylor[0];
    for &c in &k.taylor[1..] {
        p = fmadd::<FMA>(p, r, c);
    }
    p = fmadd::<FMA>(p, r, k.one);
    p = fmadd::<FMA>(p, r, k.one);
    // 2^q, built in the exponent field.
    let scale = f64::from_bits(q_bits.wrapping_add(1023) << 52);
    p * scale
}

/// Whether [`ln_lane`] applies to `x` (false for NaN).
#[inline(always)]
pub(crate) fn ln_fast(x: f64) -> bool {
    (f64::MIN_POSITIVE..=f64::MAX).contains(&x)
}

/// The constants of [`ln_lane`], as [`TrigConstants`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct LnConstants {
    /// ln 2 in two pieces, as in [`ExpConstants`].
    ln2: [f64; 2],
    /// The minimax polynomial R(z) = LG1 z + LG2 z^2 + ...
    lg: [f64; 7],
    two_52: f64,
    /// 2^52 + 1023: takes the exponent out of its bits.
    exponent_bias: f64,
    half: f64,
    one: f64,
    two: f64,
}

impl LnConstants {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    const FDLIBM: LnConstants = LnConstants {
        ln2: [
            6.931_471_803_691_238_164_90e-1,
            1.908_214_929_270_587_700_02e-10,
        ],
        lg: [
            6.666_666_666_666_735_130e-1,
            3.999_999_999_940_941_908e-1,
            2.857_142_874_366_239_149e-1,
            2.222_219_843_214_978_396e-1,
            1.818_357_216_161_805_012e-1,
            1.531_383_769_920_937_332e-1,
            1.479_819_860_511_658_591e-1,
        ],
        two_52: Self::TWO_52,
        exponent_bias: Self::TWO_52 + 1023.0,
        half: 0.5,
        one: 1.0,
        two: 2.0,
    };

    /// As [`TrigConstants::opaque`].
    #[inline(always)]
    pub(crate) fn opaque() -> LnConstants {
        let hide = std::hint::black_box::<f64>;
        let k = Self::FDLIBM;
        LnConstants {
            ln2: hide_all(k.ln2),
            lg: hide_all(k.lg),
            two_52: hide(k.two_52),
            exponent_bias: hide(k.exponent_bias),
            half: hide(k.half),
            one: hide(k.one),
            two: hide(k.two),
        }
    }
}

/// `ln x` of one lane with [`ln_fast`]`(x)`, as [`sin_cos_lane`]; `k` is
/// [`LnConstants::opaque`].
#[inline(always)]
pub(crate) fn ln_lane<const FMA: bool>(x: f64, k: &LnConstants) -> f64 {
    let [ln2_hi, ln2_lo] = k.ln2;
    let [lg1, lg2, lg3, lg4, lg5, lg6, lg7] = k.lg;
    // Moves mantissas at or above sqrt(2)/2 into the next binade, so that
    // x = 2^e m with m in [sqrt(2)/2, sqrt(2)).
    const OFFSET: u64 = 0x3ff0_0000_0000_0000 - 0x3fe6_a09e_667f_3bcd;
    let bits = x.to_bits();
    let biased = bits.wrapping_add(OFFSET) >> 52;
    let e = f64::from_bits(biased | LnConstants::TWO_52.to_bits()) - k.exponent_bias;
    let m = f64::from_bits(bits.wrapping_sub(biased << 52).wrapping_add(1023 << 52));
    // ln(1 + f) = 2s + s R(s^2) with s = f / (2 + f).
    let f = m - k.one;
    let s = f / (k.two + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * fmadd::<FMA>(w, fmadd::<FMA>(w, lg6, lg4), lg2);
    let t2 = z * fmadd::<FMA>(w, fmadd::<FMA>(w, fmadd::<FMA>(w, lg7, lg5), lg3), lg1);
    let r = t2 + t1;
    let half_f2 = k.half * f * f;
    e * ln2_hi - ((half_f2 - (s * (half_f2 + r) + e * ln2_lo)) - f)
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
                sin_cos_lane::<true>(v, &TrigConstants::FDLIBM).0
            } else {
                sin_cos_lane::<false>(v, &TrigConstants::FDLIBM).0
            }
        };
        per_lane(x, trig_fast, kernel, f64::sin)
    }
    fn cos_of(x: &V, fma: bool) -> V {
        let kernel = |v| {
            if fma {
                sin_cos_lane::<true>(v, &TrigConstants::FDLIBM).1
            } else {
                sin_cos_lane::<false>(v, &TrigConstants::FDLIBM).1
            }
        };
        per_lane(x, trig_fast, kernel, f64::cos)
    }
    fn exp_of(x: &V, fma: bool) -> V {
        let kernel = |v| {
            if fma {
                exp_lane::<true>(v, &ExpConstants::FDLIBM)
            } else {
                exp_lane::<false>(v, &ExpConstants::FDLIBM)
            }
        };
        per_lane(x, exp_fast, kernel, f64::exp)
    }
    fn ln_of(x: &V, fma: bool) -> V {
        let kernel = |v| {
            if fma {
                ln_lane::<true>(v, &LnConstants::FDLIBM)
            } else {
                ln_lane::<false>(v, &LnConstants::FDLIBM)
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
