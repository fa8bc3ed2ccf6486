//! A sweep's outputs: the summary table, JSON, CSV and the map.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use rayon::prelude::*;

use crate::plot::{self, Category, CategoryColor, Heatmap, HeatmapAxis, HeatmapValues, PlotError};
use crate::trace::{format_number, json_number};

use super::{Outcome, SweepResult};

/// What colours the cells of a map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapColor {
    /// The minimum each cell settled at (categorical); cells that did not
    /// settle in light grey (still descending) or pale yellow (f rose at
    /// some step: the step is too large for them), diverged cells in grey.
    Minimum,
    /// The outcome (categorical).
    Outcome,
    /// Coordinate `i` of the final point (continuous, viridis).
    X(usize),
    /// `f` at the final point (continuous).
    F,
    /// Steps taken (continuous).
    Iterations,
}

impl MapColor {
    /// Parses `minimum`, `outcome`, `f`, `iterations` or a variable name
    /// (the final value of that coordinate).
    pub fn parse(text: &str, variables: &[String]) -> Result<MapColor, String> {
        match text {
            "minimum" => Ok(MapColor::Minimum),
            "outcome" => Ok(MapColor::Outcome),
            "f" => Ok(MapColor::F),
            "iterations" => Ok(MapColor::Iterations),
            _ => match variables.iter().position(|v| v == text) {
                Some(i) => Ok(MapColor::X(i)),
                None => Err(format!(
                    "unknown map colour '{text}' (colours: minimum, outcome, f, iterations, {})",
                    variables.join(", ")
                )),
            },
        }
    }
}

/// Numbers in tables: 6 decimals as the book prints them, or scientific
/// notation when that would hide the value.
fn table_number(v: f64) -> String {
    if !v.is_finite() {
        return format_number(v);
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e7).contains(&a) {
        format!("{v:.3e}")
    } else {
        format!("{v:.6}")
    }
}

/// A short number for legends: 4 significant digits, no trailing zeros.
fn short_number(v: f64) -> String {
    if !v.is_finite() {
        return format_number(v);
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        return format!("{v:.2e}");
    }
    let decimals = if a == 0.0 {
        0
    } else {
        (3 - a.log10().floor() as i32).max(0) as usize
    };
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// Left-aligned first column, right-aligned others, two spaces apart.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c == 0 {
                let _ = write!(line, "{cell:<w$}", w = widths[c]);
            } else {
                let _ = write!(line, "  {cell:>w$}", w = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn percent(part: usize, whole: usize) -> String {
    format!("{:.1}%", 100.0 * part as f64 / whole.max(1) as f64)
}

impl SweepResult {
    /// The grid as text: `x0 in [-20, 20] (1000 values) × eta in [0.01, 3]
    /// (1000 values) = 1000000 cells`, single values as `x2 = 1`.
    pub fn describe_grid(&self) -> String {
        let mut parts = Vec::new();
        for (name, axis) in self.axis_names().iter().zip(self.grid.axes()) {
            if axis.varies() {
                parts.push(format!(
                    "{name} in [{}, {}] ({} values)",
                    axis.start, axis.stop, axis.count
                ));
            } else {
                parts.push(format!("{name} = {}", axis.start));
            }
        }
        format!("{} = {} cells", parts.join(" x "), self.len())
    }

    /// The names of the grid's axes: `x0` for a 1-D start point, else
    /// `x1_0`-style names (`<variable>_0`), then `eta`.
    pub fn axis_names(&self) -> Vec<String> {
        let mut names: Vec<String> = if self.variables.len() == 1 {
            vec!["x0".to_string()]
        } else {
            self.variables.iter().map(|v| format!("{v}_0")).collect()
        };
        if self.grid.eta().is_some() {
            names.push("eta".into());
        }
        names
    }

    /// The text summary: what ran, cells per outcome, and the minima with
    /// their cell counts, as aligned tables.
    pub fn summary(&self) -> String {
        let n = self.len();
        let mut out = String::new();
        let stop = if self.tol > 0.0 {
            format!("at most {} steps, tol {:?}", self.steps, self.tol)
        } else {
            format!("{} steps (fixed)", self.steps)
        };
        let _ = writeln!(out, "sweep: {}, {}, {stop}", self.formula, self.method);
        let _ = writeln!(out, "grid: {}", self.describe_grid());
        let _ = writeln!(
            out,
            "engine: {}, {} thread{}, {:.3} s",
            match self.engine {
                super::Engine::Lanes => format!(
                    "lanes of {} cells, blocks of {}",
                    crate::formula::LANES,
                    super::lanes::BLOCK
                ),
                other => other.name().to_string(),
            },
            self.threads,
            if self.threads == 1 { "" } else { "s" },
            self.elapsed.as_secs_f64()
        );
        out.push('\n');

        let mut rows = vec![vec!["outcome".into(), "cells".into(), "share".into()]];
        for o in Outcome::ALL {
            let c = self.count(o);
            if c > 0 || matches!(o, Outcome::Limit | Outcome::Diverged) {
                rows.push(vec![o.code().into(), c.to_string(), percent(c, n)]);
            }
        }
        out.push_str(&table(&rows));
        out.push('\n');

        let _ = writeln!(
            out,
            "minima reached ({} settled: |grad f| <= {:?}; same point within {:?}):",
            if self.tol > 0.0 {
                "converged, or at the limit and"
            } else {
                "at the limit and"
            },
            self.settle,
            self.cluster_tol
        );
        if self.minima.is_empty() {
            out.push_str("none\n");
        } else {
            let mut header = vec!["id".to_string()];
            header.extend(self.variables.iter().cloned());
            header.extend(["f", "kind", "cells", "share"].map(String::from));
            let mut rows = vec![header];
            for m in &self.minima {
                let mut row = vec![m.id.to_string()];
                row.extend(m.x.iter().map(|v| table_number(*v)));
                row.push(table_number(m.f));
                row.push(m.kind.name().into());
                row.push(m.cells.to_string());
                row.push(percent(m.cells, n));
                rows.push(row);
            }
            out.push_str(&table(&rows));
        }
        let unsettled = self.unsettled();
        let oscillating = self.oscillating();
        let _ = writeln!(
            out,
            "not settled: {unsettled} cells ({}): {oscillating} oscillating (f rose at some step), {} still descending",
            percent(unsettled, n),
            unsettled - oscillating
        );
        let _ = writeln!(
            out,
            "diverged: {} cells ({})",
            self.count(Outcome::Diverged),
            percent(self.count(Outcome::Diverged), n)
        );
        out
    }

    /// The summary as JSON: formula, method, stopping rules, grid axes,
    /// cells per outcome, minima (`id`, `x`, `f`, `grad_norm`, `kind`,
    /// `cells`), unsettled cells, engine and seconds. Per-cell results are
    /// in [`SweepResult::write_csv`].
    pub fn to_json(&self) -> serde_json::Value {
        let axes: Vec<serde_json::Value> = self
            .axis_names()
            .iter()
            .zip(self.grid.axes())
            .map(|(name, a)| {
                serde_json::json!({
                    "name": name,
                    "start": json_number(a.start),
                    "stop": json_number(a.stop),
                    "count": a.count,
                })
            })
            .collect();
        let mut outcomes = serde_json::Map::new();
        for o in Outcome::ALL {
            outcomes.insert(o.code().into(), self.count(o).into());
        }
        let minima: Vec<serde_json::Value> = self
            .minima
            .iter()
            .map(|m| {
                serde_json::json!({
                    "id": m.id,
                    "x": m.x.iter().map(|v| json_number(*v)).collect::<Vec<_>>(),
                    "f": json_number(m.f),
                    "grad_norm": json_number(m.grad_norm),
                    "kind": m.kind.name(),
                    "cells": m.cells,
                })
            })
            .collect();
        serde_json::json!({
            "formula": self.formula,
            "variables": self.variables,
            "method": self.method,
            "steps": self.steps,
            "tol": json_number(self.tol),
            "settle": json_number(self.settle),
            "cluster_tol": json_number(self.cluster_tol),
            "axes": axes,
            "cells": self.len(),
            "outcomes": outcomes,
            "minima": minima,
            "unsettled": self.unsettled(),
            "oscillating": self.oscillating(),
            "engine": self.engine.name(),
            "threads": self.threads,
            "seconds": self.elapsed.as_secs_f64(),
        })
    }

    /// Writes one CSV row per cell, in cell order: the start point
    /// (`x0`, or `x1_0, x2_0, …`), `eta` (empty when the method's own),
    /// `outcome`, `iterations` (steps accepted; a diverged cell diverged at
    /// the next one), the final point (the variables' names), `f`,
    /// `grad_norm`, `f_rose` (1 when some step did not decrease `f`, else
    /// 0) and `minimum` (its id, empty when the cell did not settle).
    /// Numbers are written in the shortest form that reads back to the same
    /// `f64` (`ryu`; `inf`, `-inf`, `nan` spelled out). Rows are formatted
    /// on all cores.
    pub fn write_csv<W: Write>(&self, mut out: W) -> std::io::Result<()> {
        let dim = self.variables.len();
        let mut header: Vec<String> = if dim == 1 {
            vec!["x0".into()]
        } else {
            self.variables.iter().map(|v| format!("{v}_0")).collect()
        };
        header.push("eta".into());
        header.extend(["outcome", "iterations"].map(String::from));
        header.extend(self.variables.iter().cloned());
        header.extend(["f", "grad_norm", "f_rose", "minimum"].map(String::from));
        writeln!(out, "{}", header.join(","))?;

        const ROWS: usize = 4096;
        let chunks: Vec<usize> = (0..self.len()).step_by(ROWS).collect();
        // Formatted in parallel, written in order, a bounded number at a time.
        for group in chunks.chunks(64) {
            let texts: Vec<String> = group
                .par_iter()
                .map(|&first| {
                    let mut s = String::with_capacity(ROWS * 128);
                    let mut buffer = ryu::Buffer::new();
                    let mut number = |s: &mut String, v: f64| {
                        if v.is_finite() {
                            s.push_str(buffer.format_finite(v));
                        } else {
                            s.push_str(&format_number(v));
                        }
                    };
                    let mut x0 = vec![0.0; dim];
                    for i in first..(first + ROWS).min(self.len()) {
                        let eta = self.grid.cell_into(i, &mut x0);
                        for &v in &x0 {
                            number(&mut s, v);
                            s.push(',');
                        }
                        if let Some(eta) = eta {
                            number(&mut s, eta);
                        }
                        let _ = write!(s, ",{},{}", self.outcome[i].code(), self.iterations[i]);
                        for &v in self.x(i) {
                            s.push(',');
                            number(&mut s, v);
                        }
                        s.push(',');
                        number(&mut s, self.f[i]);
                        s.push(',');
                        number(&mut s, self.grad_norm[i]);
                        s.push_str(if self.rose[i] { ",1," } else { ",0," });
                        if let Some(id) = self.minimum(i) {
                            let _ = write!(s, "{id}");
                        }
                        s.push('\n');
                    }
                    s
                })
                .collect();
            for t in texts {
                out.write_all(t.as_bytes())?;
            }
        }
        out.flush()
    }

    /// Draws the map over the two axes of the grid that vary (the first
    /// horizontally), coloured by `color`, as SVG or PNG (by extension).
    ///
    /// # Errors
    /// The grid does not vary along exactly two axes, `color` names a
    /// coordinate that does not exist, or the figure cannot be written.
    pub fn plot(&self, color: MapColor, title: Option<&str>, out: &Path) -> Result<(), PlotError> {
        plot::ImageFormat::from_path(out)?;
        let varying = self.grid.varying();
        let names = self.axis_names();
        let [(hx, ax), (hy, ay)] = varying.as_slice() else {
            let which: Vec<&str> = varying.iter().map(|(k, _)| names[*k].as_str()).collect();
            return Err(PlotError::new(
                out,
                format!(
                    "a map needs exactly two axes with more than one value; this sweep varies {} ({})",
                    varying.len(),
                    if which.is_empty() {
                        "none".to_string()
                    } else {
                        which.join(", ")
                    }
                ),
            ));
        };
        let shape = self.grid.shape();
        let stride = |k: usize| shape[k + 1..].iter().product::<usize>();
        let (sx, sy) = (stride(*hx), stride(*hy));
        let (nx, ny) = (ax.count, ay.count);
        let cell = |ix: usize, iy: usize| ix * sx + iy * sy;
        let label = |k: usize| -> String {
            let name = &names[k];
            if name == "eta" || name == "x0" {
                name.clone()
            } else {
                format!("{} (start)", &self.variables[k])
            }
        };
        let (x_label, y_label) = (label(*hx), label(*hy));
        let x_axis = HeatmapAxis {
            label: &x_label,
            start: ax.start,
            stop: ax.stop,
            count: nx,
        };
        let y_axis = HeatmapAxis {
            label: &y_label,
            start: ay.start,
            stop: ay.stop,
            count: ny,
        };
        let any_failed = self.count(Outcome::Failed) > 0;

        match color {
            MapColor::Minimum | MapColor::Outcome => {
                let (labels, colors, code_of) = self.categories(color);
                let categories: Vec<Category<'_>> = labels
                    .iter()
                    .zip(&colors)
                    .map(|(l, c)| Category {
                        label: l,
                        color: *c,
                    })
                    .collect();
                let mut codes = vec![0u16; nx * ny];
                for iy in 0..ny {
                    for ix in 0..nx {
                        codes[iy * nx + ix] = code_of(cell(ix, iy));
                    }
                }
                let map = Heatmap {
                    x: x_axis,
                    y: y_axis,
                    values: HeatmapValues::Categorical {
                        codes: &codes,
                        categories: &categories,
                    },
                    title,
                };
                plot::heatmap(&map, out)
            }
            MapColor::X(_) | MapColor::F | MapColor::Iterations => {
                let dim = self.variables.len();
                let value_label = match color {
                    MapColor::X(k) if k < dim => format!("final {}", self.variables[k]),
                    MapColor::X(k) => {
                        return Err(PlotError::new(
                            out,
                            format!("coordinate {k} does not exist (the formula has {dim})"),
                        ))
                    }
                    MapColor::F => "final f".to_string(),
                    _ => "iterations".to_string(),
                };
                let mut values = vec![f64::NAN; nx * ny];
                for iy in 0..ny {
                    for ix in 0..nx {
                        let i = cell(ix, iy);
                        if matches!(self.outcome[i], Outcome::Diverged | Outcome::Failed) {
                            continue;
                        }
                        values[iy * nx + ix] = match color {
                            MapColor::X(k) => self.x(i)[k],
                            MapColor::F => self.f[i],
                            _ => f64::from(self.iterations[i]),
                        };
                    }
                }
                let map = Heatmap {
                    x: x_axis,
                    y: y_axis,
                    values: HeatmapValues::Continuous {
                        values: &values,
                        label: &value_label,
                        missing: if any_failed {
                            "diverged or failed"
                        } else {
                            "diverged"
                        },
                    },
                    title,
                };
                plot::heatmap(&map, out)
            }
        }
    }

    /// Legend labels, colours, and the code of each cell, for a categorical map.
    #[allow(clippy::type_complexity)]
    fn categories(
        &self,
        color: MapColor,
    ) -> (
        Vec<String>,
        Vec<CategoryColor>,
        Box<dyn Fn(usize) -> u16 + '_>,
    ) {
        if color == MapColor::Outcome {
            let labels = Outcome::ALL.iter().map(|o| o.code().to_string()).collect();
            let colors = Outcome::ALL
                .iter()
                .map(|o| match o {
                    Outcome::Converged => CategoryColor::Tab10(2),
                    Outcome::Limit => CategoryColor::Tab10(0),
                    Outcome::Stalled => CategoryColor::Tab10(4),
                    Outcome::Diverged => CategoryColor::Missing,
                    Outcome::Failed => CategoryColor::Dark,
                })
                .collect();
            return (labels, colors, Box::new(move |i| self.outcome[i] as u16));
        }
        // Up to 9 minima get their own colour (tab10 without its grey);
        // beyond, the 8 reached by most cells do and the rest share one.
        const OWN: usize = 9;
        let palette = [0usize, 1, 2, 3, 4, 5, 6, 8, 9];
        let mut own: Vec<usize> = (0..self.minima.len()).collect();
        if self.minima.len() > OWN {
            own.sort_by_key(|&k| std::cmp::Reverse(self.minima[k].cells));
            own.truncate(OWN - 1);
            own.sort_unstable();
        }
        let mut slot = vec![u16::MAX; self.minima.len()];
        let mut labels = Vec::new();
        let mut colors = Vec::new();
        for (rank, &k) in own.iter().enumerate() {
            let m = &self.minima[k];
            slot[k] = labels.len() as u16;
            let point = if m.x.len() == 1 {
                format!("{} = {}", self.variables[0], short_number(m.x[0]))
            } else {
                let parts: Vec<String> = m.x.iter().map(|v| short_number(*v)).collect();
                format!("({})", parts.join(", "))
            };
            let kind = match m.kind {
                super::StationaryKind::Minimum => String::new(),
                other => format!(" ({})", other.name()),
            };
            labels.push(format!("{}: {point}{kind}", m.id));
            colors.push(CategoryColor::Tab10(palette[rank]));
        }
        let others = self.minima.len() - own.len();
        let other_code = labels.len() as u16;
        if others > 0 {
            labels.push(format!("{others} other points"));
            colors.push(CategoryColor::Tab10(palette[OWN - 1]));
        }
        let descending_code = labels.len() as u16;
        labels.push("still descending".into());
        colors.push(CategoryColor::Faint);
        let oscillating_code = labels.len() as u16;
        labels.push("f rose (oscillating)".into());
        colors.push(CategoryColor::Rgb(0xf3, 0xe3, 0xa8));
        let diverged_code = labels.len() as u16;
        labels.push("diverged".into());
        colors.push(CategoryColor::Missing);
        let failed_code = labels.len() as u16;
        labels.push("failed".into());
        colors.push(CategoryColor::Dark);
        let code = move |i: usize| match self.outcome[i] {
            Outcome::Diverged => diverged_code,
            Outcome::Failed => failed_code,
            _ => match self.minimum(i) {
                None if self.rose[i] => oscillating_code,
                None => descending_code,
                Some(id) => match slot[id - 1] {
                    u16::MAX => other_code,
                    s => s,
                },
            },
        };
        (labels, colors, Box::new(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_numbers() {
        assert_eq!(short_number(-7.27178), "-7.272");
        assert_eq!(short_number(0.0), "0");
        assert_eq!(short_number(12.5), "12.5");
        assert_eq!(short_number(1234.0), "1234");
        assert_eq!(short_number(-0.00001), "-1.00e-5");
    }

    #[test]
    fn tables_line_up() {
        let t = table(&[
            vec!["a".into(), "10".into()],
            vec!["long".into(), "2".into()],
        ]);
        assert_eq!(t, "a     10\nlong   2\n");
    }
}
