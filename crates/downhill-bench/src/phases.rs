//! Why W5's ratio moves between runs: which kinds of code slow down in this
//! machine's slow phases.
//!
//! `cargo run --release -p downhill-bench -- --phases SLICES [--csv]`
//!
//! Alternates, in slices of 2000 repetitions each, the W5 BFGS solve as a
//! hand-written loop and through `driver::run` with a `Formula`, and five
//! small loops that each stress one part of the core:
//!
//! - `indirect`: 380 indirect calls over four targets, little else;
//! - `branchy`: 760 data-dependent conditional branches;
//! - `footprint`: 300 distinct functions called in turn (about 19 KB of code
//!   per repetition, more than the decoded-instruction cache holds);
//! - `forwarding`: 380 values each stored and reloaded on the dependency
//!   chain (store-to-load forwarding);
//! - `stores`: 384 independent stores and a few loads.
//!
//! A slice is "slow" when the hand loop took 12 % more than its 10th
//! percentile, "fast" when within 4 % of it. The summary prints each loop's
//! median time in fast and slow slices and the quotient. With `--csv` it
//! prints every slice instead.

use std::hint::black_box;
use std::time::Instant;

use downhill::driver::{run, Options};
use downhill::formula::Formula;
use downhill::method::Bfgs;

use crate::work_w5::{hand_bfgs, BFGS_TOL, X0};

const SLICE: usize = 2000;

#[inline(never)]
fn target_a(x: f64) -> f64 {
    x * 1.000_000_1 + 0.1
}
#[inline(never)]
fn target_b(x: f64) -> f64 {
    x * 0.999_999_9 - 0.1
}
#[inline(never)]
fn target_c(x: f64) -> f64 {
    x * 1.000_000_2 + 0.2
}
#[inline(never)]
fn target_d(x: f64) -> f64 {
    x * 0.999_999_8 - 0.2
}

#[inline(never)]
fn indirect_loop(table: &[fn(f64) -> f64; 4], pattern: &[u8], reps: usize) -> f64 {
    let mut x = 1.0;
    for _ in 0..reps {
        for &p in pattern {
            x = table[p as usize](x);
        }
    }
    x
}

#[inline(never)]
fn branchy_loop(pattern: &[u8], reps: usize) -> f64 {
    let mut x = 1.0;
    for _ in 0..reps {
        for &p in pattern {
            if p & 1 == 0 {
                x = x * 1.000_000_1 + 0.1
            } else {
                x = x * 0.999_999_9 - 0.1
            }
            if p & 2 == 0 {
                x += 0.5
            } else {
                x -= 0.5
            }
        }
    }
    x
}

/// One of the `footprint` loop's functions: a few dependent operations,
/// distinct code per `K`.
#[inline(never)]
fn piece<const K: usize>(x: f64, y: f64) -> (f64, f64) {
    let k = K as f64;
    let a = x * (1.0 + k * 1e-9) + y;
    let b = y * (1.0 - k * 1e-9) - a * 1e-9;
    (a - b * 1e-12, b + k * 1e-15)
}

macro_rules! pieces {
    ($x:ident, $y:ident; $($k:literal)*) => {
        $( let (a, b) = piece::<$k>($x, $y); $x = a; $y = b; )*
    };
}

#[inline(never)]
fn footprint_loop(reps: usize) -> f64 {
    let (mut x, mut y) = (1.0_f64, 0.5_f64);
    for _ in 0..reps {
        pieces!(x, y;
            0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
            30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59
            60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89
            90 91 92 93 94 95 96 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111 112 113 114
            115 116 117 118 119 120 121 122 123 124 125 126 127 128 129 130 131 132 133 134 135 136 137
            138 139 140 141 142 143 144 145 146 147 148 149 150 151 152 153 154 155 156 157 158 159 160
            161 162 163 164 165 166 167 168 169 170 171 172 173 174 175 176 177 178 179 180 181 182 183
            184 185 186 187 188 189 190 191 192 193 194 195 196 197 198 199 200 201 202 203 204 205 206
            207 208 209 210 211 212 213 214 215 216 217 218 219 220 221 222 223 224 225 226 227 228 229
            230 231 232 233 234 235 236 237 238 239 240 241 242 243 244 245 246 247 248 249 250 251 252
            253 254 255 256 257 258 259 260 261 262 263 264 265 266 267 268 269 270 271 272 273 274 275
            276 277 278 279 280 281 282 283 284 285 286 287 288 289 290 291 292 293 294 295 296 297 298
            299);
    }
    x + y
}

#[inline(never)]
fn forwarding_loop(state: &mut [f64; 16], reps: usize) -> f64 {
    for _ in 0..reps {
        for i in 0..380 {
            // `black_box` keeps the array in memory: every value is stored
            // and reloaded on the chain.
            let s = black_box(&mut *state);
            s[i & 15] = s[(i + 3) & 15] * 0.999 + s[(i + 7) & 15] * 0.001;
        }
    }
    state[0]
}

#[inline(never)]
fn store_loop(out: &mut [f64; 64], reps: usize) -> f64 {
    let mut acc = 0.0;
    for r in 0..reps {
        for k in 0..6 {
            let o = black_box(&mut *out);
            for (i, slot) in o.iter_mut().enumerate() {
                *slot = (i + k + r) as f64;
            }
            acc += o[(k * 7) & 63];
        }
    }
    acc
}

/// Microseconds per repetition of `work` over one slice.
fn time(work: impl FnOnce()) -> f64 {
    let start = Instant::now();
    work();
    start.elapsed().as_secs_f64() / SLICE as f64 * 1e6
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `slices` slices and prints the summary (or, with `csv`, every slice).
pub fn run_phases(slices: usize, csv: bool) {
    let formula = Formula::parse("100*(x2-x1^2)^2+(1-x1)^2").expect("the formula parses");
    let options = Options {
        grad_tol: BFGS_TOL,
        max_iterations: 1000,
        ..Options::default()
    };
    let table: [fn(f64) -> f64; 4] = [target_a, target_b, target_c, target_d];
    let mut seed = 12345_u64;
    let pattern: Vec<u8> = (0..380)
        .map(|_| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((seed >> 33) % 4) as u8
        })
        .collect();
    const NAMES: [&str; 7] = [
        "hand BFGS",
        "driver BFGS",
        "indirect",
        "branchy",
        "footprint",
        "forwarding",
        "stores",
    ];
    if csv {
        println!("seconds,{}", NAMES.join(","));
    }
    let start = Instant::now();
    let mut rows = Vec::with_capacity(slices);
    for _ in 0..slices {
        let row = [
            time(|| {
                for _ in 0..SLICE {
                    black_box(hand_bfgs(black_box(BFGS_TOL), 1000));
                }
            }),
            time(|| {
                for _ in 0..SLICE {
                    black_box(run(&formula, &mut Bfgs::new(), &X0, &options).expect("runs"));
                }
            }),
            time(|| {
                black_box(indirect_loop(black_box(&table), &pattern, SLICE));
            }),
            time(|| {
                black_box(branchy_loop(&pattern, SLICE));
            }),
            time(|| {
                black_box(footprint_loop(black_box(SLICE)));
            }),
            time(|| {
                black_box(forwarding_loop(&mut [1.0; 16], SLICE));
            }),
            time(|| {
                black_box(store_loop(&mut [0.0; 64], SLICE));
            }),
        ];
        if csv {
            let cells: Vec<String> = row.iter().map(|v| format!("{v:.4}")).collect();
            println!("{:.3},{}", start.elapsed().as_secs_f64(), cells.join(","));
        }
        rows.push(row);
    }
    if csv {
        return;
    }
    let mut hand: Vec<f64> = rows.iter().map(|r| r[0]).collect();
    hand.sort_by(f64::total_cmp);
    let floor = hand[hand.len() / 10];
    let fast: Vec<&[f64; 7]> = rows.iter().filter(|r| r[0] <= 1.04 * floor).collect();
    let slow: Vec<&[f64; 7]> = rows.iter().filter(|r| r[0] >= 1.12 * floor).collect();
    println!(
        "{slices} slices of {SLICE} repetitions: {} fast, {} slow (hand loop within 4 % / 12 % or more above its 10th percentile)",
        fast.len(),
        slow.len()
    );
    if fast.is_empty() || slow.is_empty() {
        println!("no fast or no slow slices in this run: run it again, or longer");
        return;
    }
    println!(
        "{:<12} {:>12} {:>12} {:>10}",
        "loop", "fast µs", "slow µs", "slow/fast"
    );
    for (k, name) in NAMES.iter().enumerate() {
        let f = median(fast.iter().map(|r| r[k]).collect());
        let s = median(slow.iter().map(|r| r[k]).collect());
        println!("{name:<12} {f:>12.3} {s:>12.3} {:>9.2}x", s / f);
    }
    let ratio = |set: &[&[f64; 7]]| median(set.iter().map(|r| r[1] / r[0]).collect());
    println!(
        "driver/hand: {:.2}x in fast slices, {:.2}x in slow ones",
        ratio(&fast),
        ratio(&slow)
    );
}
