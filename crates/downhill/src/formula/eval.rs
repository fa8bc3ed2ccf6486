//! The number types a compiled formula runs on, and the per-dimension choice
//! of `num-dual` types for gradients and Hessians.
//!
//! | dimension | gradient           | Hessian              |
//! |-----------|--------------------|----------------------|
//! | 0         | plain `f64`        | plain `f64`          |
//! | 1         | [`Dual64`]         | [`Dual2_64`]         |
//! | 2, 3, 4   | [`DualSVec64<N>`]  | [`Dual2SVec64<N>`]   |
//! | 5 and up  | [`DualDVec64`]     | [`Dual2DVec64`]      |
//!
//! The static types live on the stack; the dynamic ones allocate per
//! operation.

use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, U1};
use num_dual::{
    Dual2, Dual2DVec64, Dual2SVec64, Dual2Vec, Dual2_64, Dual64, DualDVec64, DualNum, DualSVec64,
    DualVec,
};

use super::program::Program;

/// A number a formula can be evaluated on: `f64` or a `num-dual` dual number
/// over `f64`.
pub(crate) trait Scalar: DualNum<Primitive = f64> + Clone {
    /// The value (real part) as a plain float.
    fn value(&self) -> f64 {
        self.re()
    }

    /// The same number with its value replaced and its derivative parts
    /// kept; used where `num-dual` computes the value differently from plain
    /// `f64` arithmetic (it divides by multiplying with the reciprocal), so
    /// that every path returns the bit-identical value.
    fn with_value(self, value: f64) -> Self;

    /// `g(self)` by the chain rule, for a scalar function `g` with
    /// `g = f0`, `g' = f1`, `g'' = f2` at `self.value()`.
    fn chain(&self, f0: f64, f1: f64, f2: f64) -> Self;
}

impl Scalar for f64 {
    fn with_value(self, value: f64) -> Self {
        value
    }

    fn chain(&self, f0: f64, _f1: f64, _f2: f64) -> Self {
        f0
    }
}

impl Scalar for Dual64 {
    fn with_value(mut self, value: f64) -> Self {
        self.re = value;
        self
    }

    fn chain(&self, f0: f64, f1: f64, _f2: f64) -> Self {
        Dual64::new(f0, self.eps * f1)
    }
}

impl Scalar for Dual2_64 {
    fn with_value(mut self, value: f64) -> Self {
        self.re = value;
        self
    }

    fn chain(&self, f0: f64, f1: f64, f2: f64) -> Self {
        Dual2::new(f0, self.v1 * f1, self.v2 * f1 + self.v1 * self.v1 * f2)
    }
}

impl<N: Dim> Scalar for DualVec<f64, N>
where
    DefaultAllocator: Allocator<N>,
{
    fn with_value(mut self, value: f64) -> Self {
        self.re = value;
        self
    }

    fn chain(&self, f0: f64, f1: f64, _f2: f64) -> Self {
        DualVec::new(f0, &self.eps * f1)
    }
}

impl<N: Dim> Scalar for Dual2Vec<f64, N>
where
    DefaultAllocator: Allocator<U1, N> + Allocator<N, N>,
{
    fn with_value(mut self, value: f64) -> Self {
        self.re = value;
        self
    }

    fn chain(&self, f0: f64, f1: f64, f2: f64) -> Self {
        Dual2Vec::new(
            f0,
            &self.v1 * f1,
            &self.v2 * f1 + self.v1.tr_mul(&self.v1) * f2,
        )
    }
}

/// `f(x)` and the gradient into `gradient` (already checked: lengths match
/// `program.inputs()`).
pub(crate) fn value_gradient(program: &Program, x: &[f64], gradient: &mut [f64]) -> f64 {
    match x.len() {
        0 => program.evaluate::<f64>(x),
        1 => {
            let result = program.evaluate(&[Dual64::from_re(x[0]).derivative()]);
            gradient[0] = result.eps;
            result.re
        }
        2 => value_gradient_static::<2>(program, x, gradient),
        3 => value_gradient_static::<3>(program, x, gradient),
        4 => value_gradient_static::<4>(program, x, gradient),
        dim => {
            let inputs: Vec<DualDVec64> = x
                .iter()
                .enumerate()
                .map(|(i, &xi)| DualDVec64::from_re(xi).derivative(dim, i))
                .collect();
            let result = program.evaluate(&inputs);
            copy_or_zero(result.eps.0.as_ref().map(|m| m.as_slice()), gradient);
            result.re
        }
    }
}

fn value_gradient_static<const N: usize>(
    program: &Program,
    x: &[f64],
    gradient: &mut [f64],
) -> f64 {
    let inputs: [DualSVec64<N>; N] =
        std::array::from_fn(|i| DualSVec64::<N>::from_re(x[i]).derivative(i));
    let result = program.evaluate(&inputs);
    copy_or_zero(result.eps.0.as_ref().map(|m| m.as_slice()), gradient);
    result.re
}

/// `f(x)`, the gradient, and the Hessian row-major into `hessian`
/// (lengths already checked).
pub(crate) fn value_gradient_hessian(
    program: &Program,
    x: &[f64],
    gradient: &mut [f64],
    hessian: &mut [f64],
) -> f64 {
    match x.len() {
        0 => program.evaluate::<f64>(x),
        1 => {
            let result = program.evaluate(&[Dual2_64::from_re(x[0]).derivative()]);
            gradient[0] = result.v1;
            hessian[0] = result.v2;
            result.re
        }
        2 => value_gradient_hessian_static::<2>(program, x, gradient, hessian),
        3 => value_gradient_hessian_static::<3>(program, x, gradient, hessian),
        4 => value_gradient_hessian_static::<4>(program, x, gradient, hessian),
        dim => {
            let inputs: Vec<Dual2DVec64> = x
                .iter()
                .enumerate()
                .map(|(i, &xi)| Dual2DVec64::from_re(xi).derivative(dim, i))
                .collect();
            let result = program.evaluate(&inputs);
            copy_or_zero(result.v1.0.as_ref().map(|m| m.as_slice()), gradient);
            copy_hessian(result.v2.0.as_ref().map(|m| m.as_slice()), dim, hessian);
            result.re
        }
    }
}

fn value_gradient_hessian_static<const N: usize>(
    program: &Program,
    x: &[f64],
    gradient: &mut [f64],
    hessian: &mut [f64],
) -> f64 {
    let inputs: [Dual2SVec64<N>; N] =
        std::array::from_fn(|i| Dual2SVec64::<N>::from_re(x[i]).derivative(i));
    let result = program.evaluate(&inputs);
    copy_or_zero(result.v1.0.as_ref().map(|m| m.as_slice()), gradient);
    copy_hessian(result.v2.0.as_ref().map(|m| m.as_slice()), N, hessian);
    result.re
}

/// Copies a derivative vector, or zeros when `num-dual` stored none (the
/// formula does not depend on the variables).
fn copy_or_zero(source: Option<&[f64]>, target: &mut [f64]) {
    match source {
        Some(values) => target.copy_from_slice(values),
        None => target.fill(0.0),
    }
}

/// Copies an `n x n` matrix stored column-major into `target` row-major.
fn copy_hessian(column_major: Option<&[f64]>, n: usize, target: &mut [f64]) {
    match column_major {
        Some(values) => {
            for row in 0..n {
                for column in 0..n {
                    target[row * n + column] = values[column * n + row];
                }
            }
        }
        None => target.fill(0.0),
    }
}
