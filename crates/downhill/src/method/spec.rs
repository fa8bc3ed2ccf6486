//! A method chosen by name with optional parameters (what the command line
//! and other front ends hand over), validated and built in one place.
//!
//! A parameter that the chosen method does not use is an error rather than
//! silently ignored: `--beta` with gradient descent is most likely a typo.

use super::{
    default_method, AdaGrad, Adadelta, Adam, Bfgs, GradientDescent, HessianRepair, Lbfgs,
    LineSearchKind, Method, Momentum, Newton, Precond, RmsProp,
};

/// The methods by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodName {
    /// The robust default ([`default_method`]).
    Auto,
    /// Gradient descent.
    Gd,
    /// Newton's method.
    Newton,
    /// Diagonal preconditioning.
    Precond,
    /// Momentum.
    Momentum,
    /// AdaGrad.
    Adagrad,
    /// RMSProp.
    Rmsprop,
    /// Adadelta.
    Adadelta,
    /// Adam.
    Adam,
    /// BFGS.
    Bfgs,
    /// L-BFGS.
    Lbfgs,
}

impl MethodName {
    /// Every method, in the order of the help text.
    pub const ALL: [MethodName; 11] = [
        MethodName::Auto,
        MethodName::Gd,
        MethodName::Newton,
        MethodName::Precond,
        MethodName::Momentum,
        MethodName::Adagrad,
        MethodName::Rmsprop,
        MethodName::Adadelta,
        MethodName::Adam,
        MethodName::Bfgs,
        MethodName::Lbfgs,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            MethodName::Auto => "auto",
            MethodName::Gd => "gd",
            MethodName::Newton => "newton",
            MethodName::Precond => "precond",
            MethodName::Momentum => "momentum",
            MethodName::Adagrad => "adagrad",
            MethodName::Rmsprop => "rmsprop",
            MethodName::Adadelta => "adadelta",
            MethodName::Adam => "adam",
            MethodName::Bfgs => "bfgs",
            MethodName::Lbfgs => "lbfgs",
        }
    }

    /// Parses a command-line name.
    pub fn parse(text: &str) -> Result<MethodName, String> {
        MethodName::ALL
            .into_iter()
            .find(|m| m.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = MethodName::ALL.iter().map(|m| m.name()).collect();
                format!("unknown method '{text}' (methods: {})", names.join(", "))
            })
    }

    /// The method when none is named: gradient descent when a learning
    /// rate is given (`--eta` alone is the chapter's fixed-step descent),
    /// otherwise [`MethodName::Auto`].
    pub fn unnamed(eta_given: bool) -> MethodName {
        if eta_given {
            MethodName::Gd
        } else {
            MethodName::Auto
        }
    }

    /// Whether the method evaluates the Hessian.
    pub fn needs_hessian(self, dim: usize) -> bool {
        match self {
            MethodName::Auto => dim <= super::AUTO_NEWTON_MAX_DIM,
            MethodName::Newton | MethodName::Precond => true,
            _ => false,
        }
    }
}

/// A method by name plus the parameters the user gave; `None` means the
/// method's default.
#[derive(Clone, Debug, PartialEq)]
pub struct MethodSpec {
    /// Which method.
    pub name: MethodName,
    /// Learning rate / step size / first trial step.
    pub eta: Option<f64>,
    /// Hessian treatment (newton: exact, abs, shift; precond: exact, abs).
    pub hessian: Option<HessianRepair>,
    /// Line search (gd, newton, precond, bfgs, lbfgs).
    pub line_search: Option<LineSearchKind>,
    /// Momentum's `β`.
    pub beta: Option<f64>,
    /// RMSProp's `γ`.
    pub gamma: Option<f64>,
    /// Adadelta's `ρ`.
    pub rho: Option<f64>,
    /// Adam's `β₁`.
    pub beta1: Option<f64>,
    /// Adam's `β₂`.
    pub beta2: Option<f64>,
    /// The `ε` of AdaGrad, RMSProp, Adadelta, Adam.
    pub eps: Option<f64>,
    /// L-BFGS memory.
    pub memory: Option<usize>,
}

impl MethodSpec {
    /// A method with all its defaults.
    pub fn new(name: MethodName) -> Self {
        MethodSpec {
            name,
            eta: None,
            hessian: None,
            line_search: None,
            beta: None,
            gamma: None,
            rho: None,
            beta1: None,
            beta2: None,
            eps: None,
            memory: None,
        }
    }

    /// Checks that every given parameter applies to the method and is in
    /// range, and builds it for an objective of `dim` variables. Returns the
    /// method and, for `auto`, why it was chosen.
    pub fn build(&self, dim: usize) -> Result<(Box<dyn Method>, Option<String>), String> {
        use MethodName as M;
        let name = self.name;
        let given: [(&str, bool, &[MethodName]); 10] = [
            (
                "--eta",
                self.eta.is_some(),
                &[
                    M::Gd,
                    M::Newton,
                    M::Precond,
                    M::Momentum,
                    M::Adagrad,
                    M::Rmsprop,
                    M::Adam,
                ],
            ),
            (
                "--hessian",
                self.hessian.is_some(),
                &[M::Newton, M::Precond],
            ),
            (
                "--line-search",
                self.line_search.is_some(),
                &[M::Gd, M::Newton, M::Precond, M::Bfgs, M::Lbfgs],
            ),
            ("--beta", self.beta.is_some(), &[M::Momentum]),
            ("--gamma", self.gamma.is_some(), &[M::Rmsprop]),
            ("--rho", self.rho.is_some(), &[M::Adadelta]),
            ("--beta1", self.beta1.is_some(), &[M::Adam]),
            ("--beta2", self.beta2.is_some(), &[M::Adam]),
            (
                "--eps",
                self.eps.is_some(),
                &[M::Adagrad, M::Rmsprop, M::Adadelta, M::Adam],
            ),
            ("--memory", self.memory.is_some(), &[M::Lbfgs]),
        ];
        for (flag, present, applies) in given {
            if present && !applies.contains(&name) {
                let names: Vec<&str> = applies.iter().map(|m| m.name()).collect();
                return Err(format!(
                    "{flag} does not apply to --method {} (it applies to: {})",
                    name.name(),
                    names.join(", ")
                ));
            }
        }
        let in_unit = |flag: &str, v: Option<f64>, default: f64| -> Result<f64, String> {
            match v {
                None => Ok(default),
                Some(v) if (0.0..1.0).contains(&v) => Ok(v),
                Some(v) => Err(format!("{flag} must be in [0, 1), got {v}")),
            }
        };
        let positive = |flag: &str, v: Option<f64>, default: f64| -> Result<f64, String> {
            match v {
                None => Ok(default),
                Some(v) if v > 0.0 && v.is_finite() => Ok(v),
                Some(v) => Err(format!("{flag} must be a finite number > 0, got {v}")),
            }
        };
        let eta = |default: f64| positive("--eta", self.eta, default);
        let search = self.line_search.unwrap_or_default();
        let method: Box<dyn Method> = match name {
            M::Auto => {
                let (method, why) = default_method(dim);
                return Ok((method, Some(why)));
            }
            M::Gd => Box::new(GradientDescent::new(eta(0.1)?).with_line_search(search)),
            M::Newton => Box::new(
                Newton::new(eta(1.0)?)
                    .with_repair(self.hessian.unwrap_or_default())
                    .with_line_search(search),
            ),
            M::Precond => {
                let absolute =
                    match self.hessian.unwrap_or_default() {
                        HessianRepair::Exact => false,
                        HessianRepair::Abs => true,
                        HessianRepair::Shift => return Err(
                            "--hessian shift does not apply to --method precond (use exact or abs)"
                                .into(),
                        ),
                    };
                Box::new(Precond::new(eta(1.0)?, absolute).with_line_search(search))
            }
            M::Momentum => Box::new(Momentum::new(eta(0.1)?, in_unit("--beta", self.beta, 0.9)?)),
            M::Adagrad => {
                Box::new(AdaGrad::new(eta(0.4)?).with_eps(positive("--eps", self.eps, 1e-6)?))
            }
            M::Rmsprop => Box::new(
                RmsProp::new(eta(0.01)?, in_unit("--gamma", self.gamma, 0.9)?)
                    .with_eps(positive("--eps", self.eps, 1e-6)?),
            ),
            M::Adadelta => Box::new(
                Adadelta::new(in_unit("--rho", self.rho, 0.9)?)
                    .with_eps(positive("--eps", self.eps, 1e-5)?),
            ),
            M::Adam => Box::new(
                Adam::new(eta(0.01)?)
                    .with_betas(
                        in_unit("--beta1", self.beta1, 0.9)?,
                        in_unit("--beta2", self.beta2, 0.999)?,
                    )
                    .with_eps(positive("--eps", self.eps, 1e-6)?),
            ),
            M::Bfgs => Box::new(
                Bfgs::new().with_line_search(self.line_search.unwrap_or(LineSearchKind::Wolfe)),
            ),
            M::Lbfgs => {
                let memory = match self.memory {
                    None => 10,
                    Some(0) => return Err("--memory must be at least 1".into()),
                    Some(m) => m,
                };
                Box::new(
                    Lbfgs::new(memory)
                        .with_line_search(self.line_search.unwrap_or(LineSearchKind::Wolfe)),
                )
            }
        };
        Ok((method, None))
    }
}

/// Parses `exact`, `abs` or `shift`.
pub fn parse_hessian(text: &str) -> Result<HessianRepair, String> {
    [
        HessianRepair::Exact,
        HessianRepair::Abs,
        HessianRepair::Shift,
    ]
    .into_iter()
    .find(|r| r.name() == text)
    .ok_or_else(|| format!("unknown hessian option '{text}' (options: exact, abs, shift)"))
}

/// Parses `none`, `exact`, `golden`, `armijo` or `wolfe`.
pub fn parse_line_search(text: &str) -> Result<LineSearchKind, String> {
    [
        LineSearchKind::None,
        LineSearchKind::Exact,
        LineSearchKind::Golden,
        LineSearchKind::Armijo,
        LineSearchKind::Wolfe,
    ]
    .into_iter()
    .find(|k| k.name() == text)
    .ok_or_else(|| {
        format!("unknown line search '{text}' (line searches: none, exact, golden, armijo, wolfe)")
    })
}
