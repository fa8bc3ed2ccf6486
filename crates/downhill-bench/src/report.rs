//! Tables: medians, spread and ratios against the reference row, goals; as
//! aligned text, Markdown and JSON.

use serde_json::{json, Value};

use crate::harness::RowData;

/// A column besides name, ratio, n, spread and note.
#[derive(Clone, Debug)]
pub enum Col {
    /// Median seconds per unit × `scale`.
    PerUnit(&'static str, f64),
    /// Median seconds per solve × `scale` (units per solve × per unit).
    PerSolve(&'static str, f64),
    /// Median units per solve (iterations).
    UnitsPerSolve(&'static str),
    /// `extra("bytes_per_unit") / median` in GB/s.
    Bandwidth(&'static str),
    /// Bandwidth as a percentage of the named row's.
    PctOf(&'static str, String),
    /// Units per second × `scale` (e.g. Mcell-steps/s with 1e-6).
    Rate(&'static str, f64),
    /// An extra value × `scale`, with `decimals` decimals.
    Extra(&'static str, &'static str, f64, usize),
    /// Ratio per solve against the row's reference.
    SolveRatio(&'static str),
}

/// What a goal compares.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// Time per unit, row ÷ against.
    Time,
    /// Bandwidth, row ÷ against (the goal is a minimum).
    Bandwidth,
}

/// A goal: `metric(row) / metric(against)` within `limit`.
#[derive(Clone, Debug)]
pub struct Goal {
    /// E.g. `"≤ 1.5x the hand-written closure"`.
    pub text: String,
    /// The row judged.
    pub row: String,
    /// The row it is compared with.
    pub against: String,
    /// Upper limit of the time ratio, or lower limit of the bandwidth ratio.
    pub limit: f64,
    /// What is compared.
    pub metric: Metric,
}

/// One result table.
#[derive(Clone, Debug)]
pub struct Table {
    /// Short id, e.g. `W5 BFGS`.
    pub id: String,
    /// One-line description of the workload.
    pub title: String,
    /// Rows with their samples.
    pub rows: Vec<RowData>,
    /// The default reference row.
    pub reference: String,
    /// Rows compared with another reference: (row, reference).
    pub row_refs: Vec<(String, String)>,
    /// Rows without a ratio (e.g. STREAM triad in W3).
    pub no_ratio: Vec<String>,
    /// Extra columns.
    pub cols: Vec<Col>,
    /// Goals.
    pub goals: Vec<Goal>,
    /// Notes printed under the table.
    pub notes: Vec<String>,
}

impl Table {
    /// A table with the default columns only.
    pub fn new(id: impl Into<String>, title: impl Into<String>, rows: Vec<RowData>) -> Table {
        Table {
            id: id.into(),
            title: title.into(),
            rows,
            reference: String::new(),
            row_refs: Vec::new(),
            no_ratio: Vec::new(),
            cols: Vec::new(),
            goals: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Makes the fastest of `candidates` present in the table the reference.
    pub fn fastest_reference(&mut self, candidates: &[&str]) {
        let best = self
            .rows
            .iter()
            .filter(|r| candidates.contains(&r.name.as_str()) && !r.samples.is_empty())
            .min_by(|a, b| a.median().total_cmp(&b.median()));
        if let Some(best) = best {
            self.reference = best.name.clone();
        }
    }

    fn row(&self, name: &str) -> Option<&RowData> {
        self.rows
            .iter()
            .find(|r| r.name == name && !r.samples.is_empty())
    }

    fn reference_of(&self, row: &str) -> Option<&RowData> {
        if self.no_ratio.iter().any(|r| r == row) {
            return None;
        }
        let name = self
            .row_refs
            .iter()
            .find(|(r, _)| r == row)
            .map(|(_, reference)| reference.as_str())
            .unwrap_or(&self.reference);
        self.row(name)
    }

    fn ratio(&self, row: &RowData) -> Option<f64> {
        self.reference_of(&row.name)
            .map(|reference| row.median() / reference.median())
    }

    fn solve_ratio(&self, row: &RowData) -> Option<f64> {
        self.reference_of(&row.name).map(|reference| {
            (row.median() * row.units_per_solve())
                / (reference.median() * reference.units_per_solve())
        })
    }

    fn bandwidth(row: &RowData) -> Option<f64> {
        row.get("bytes_per_unit").map(|b| b / row.median() / 1e9)
    }

    fn is_reference(&self, row: &str) -> bool {
        row == self.reference || self.row_refs.iter().any(|(_, r)| r == row)
    }

    /// Evaluates a goal: (value shown, met). `None` if a row is missing.
    pub fn judge(&self, goal: &Goal) -> Option<(f64, bool)> {
        let row = self.row(&goal.row)?;
        let against = self.row(&goal.against)?;
        match goal.metric {
            Metric::Time => {
                let r = row.median() / against.median();
                Some((r, r <= goal.limit))
            }
            Metric::Bandwidth => {
                let r = Self::bandwidth(row)? / Self::bandwidth(against)?;
                Some((r, r >= goal.limit))
            }
        }
    }

    fn cell(&self, col: &Col, row: &RowData) -> String {
        let m = row.median();
        match col {
            Col::PerUnit(_, scale) => num(m * scale),
            Col::PerSolve(_, scale) => num(m * row.units_per_solve() * scale),
            Col::UnitsPerSolve(_) => num(row.units_per_solve()),
            Col::Bandwidth(_) => Self::bandwidth(row).map(num).unwrap_or("–".into()),
            Col::PctOf(_, other) => match (Self::bandwidth(row), self.row(other)) {
                (Some(b), Some(o)) => match Self::bandwidth(o) {
                    Some(ob) => format!("{:.0}%", 100.0 * b / ob),
                    None => "–".into(),
                },
                _ => "–".into(),
            },
            Col::Rate(_, scale) => num(scale / m),
            Col::Extra(_, key, scale, decimals) => row
                .get(key)
                .map(|v| format!("{:.*}", *decimals, v * scale))
                .unwrap_or("–".into()),
            Col::SolveRatio(_) => self.solve_ratio(row).map(num).unwrap_or("–".into()),
        }
    }

    fn header(col: &Col) -> &'static str {
        match col {
            Col::PerUnit(h, _)
            | Col::PerSolve(h, _)
            | Col::UnitsPerSolve(h)
            | Col::Bandwidth(h)
            | Col::PctOf(h, _)
            | Col::Rate(h, _)
            | Col::Extra(h, _, _, _)
            | Col::SolveRatio(h) => h,
        }
    }

    /// Header and body cells.
    fn cells(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut header = vec!["implementation".to_string()];
        header.extend(self.cols.iter().map(|c| Self::header(c).to_string()));
        header.extend(["ratio", "n", "spread", "note"].map(String::from));
        let mut body = Vec::new();
        for row in &self.rows {
            let mut name = row.name.clone();
            if self.is_reference(&row.name) {
                name.push_str(" **ref**");
            }
            let mut line = vec![name];
            if row.samples.is_empty() {
                line.extend(self.cols.iter().map(|_| "–".to_string()));
                line.extend(["–", "0", "–"].map(String::from));
                line.push(format!("FAILED: {}", row.errors.join("; ")));
                body.push(line);
                continue;
            }
            line.extend(self.cols.iter().map(|c| self.cell(c, row)));
            line.push(self.ratio(row).map(num).unwrap_or("–".into()));
            line.push(row.samples.len().to_string());
            line.push(format!("{:.0}%", 100.0 * row.spread()));
            line.push(row.note.clone());
            body.push(line);
        }
        (header, body)
    }

    fn goal_lines(&self) -> Vec<String> {
        self.goals
            .iter()
            .map(|g| match self.judge(g) {
                Some((value, met)) => {
                    let shown = match g.metric {
                        Metric::Time => format!("{value:.2}x"),
                        Metric::Bandwidth => format!("{:.0}%", 100.0 * value),
                    };
                    format!(
                        "goal {}: {} — {} ({shown})",
                        g.row,
                        g.text,
                        if met { "MET" } else { "NOT MET" }
                    )
                }
                None => format!("goal {}: {} — not measured (row missing)", g.row, g.text),
            })
            .collect()
    }

    /// Aligned plain text.
    pub fn text(&self) -> String {
        let (header, body) = self.cells();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for line in &body {
            for (w, c) in widths.iter_mut().zip(line) {
                *w = (*w).max(c.chars().count());
            }
        }
        let last = widths.len() - 1;
        let fmt_line = |cells: &[String]| -> String {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                let pad = widths[i].saturating_sub(c.chars().count());
                if i == last {
                    s.push_str(c);
                } else if i == 0 {
                    s.push_str(c);
                    s.push_str(&" ".repeat(pad + 2));
                } else {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(c);
                    s.push_str("  ");
                }
            }
            s.trim_end().to_string()
        };
        let mut out = format!("== {}: {}\n", self.id, self.title);
        out.push_str(&fmt_line(&header));
        out.push('\n');
        for line in &body {
            out.push_str(&fmt_line(line));
            out.push('\n');
        }
        for g in self.goal_lines() {
            out.push_str(&format!("  {g}\n"));
        }
        for n in &self.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        out
    }

    /// GitHub Markdown.
    pub fn markdown(&self) -> String {
        let (header, body) = self.cells();
        let mut out = format!("### {}: {}\n\n", self.id, self.title);
        out.push_str(&format!("| {} |\n", header.join(" | ")));
        let align: Vec<&str> = header
            .iter()
            .enumerate()
            .map(|(i, _)| {
                if i == 0 || i == header.len() - 1 {
                    "---"
                } else {
                    "---:"
                }
            })
            .collect();
        out.push_str(&format!("|{}|\n", align.join("|")));
        for line in &body {
            let cells: Vec<String> = line.iter().map(|c| c.replace('|', "\\|")).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out.push('\n');
        for g in self.goal_lines() {
            out.push_str(&format!("- {g}\n"));
        }
        for n in &self.notes {
            out.push_str(&format!("- {n}\n"));
        }
        out.push('\n');
        out
    }

    /// JSON with every sample.
    pub fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                let extra: serde_json::Map<String, Value> = r
                    .extra
                    .iter()
                    .map(|(k, v)| (k.clone(), json_f(*v)))
                    .collect();
                json!({
                    "name": r.name,
                    "reference": self.is_reference(&r.name),
                    "n": r.samples.len(),
                    "median_s_per_unit": json_f(r.median()),
                    "spread": json_f(r.spread()),
                    "ratio": self.ratio(r).map(json_f),
                    "ratio_per_solve": self.solve_ratio(r).map(json_f),
                    "units_per_solve": json_f(r.units_per_solve()),
                    "note": r.note,
                    "errors": r.errors,
                    "extra": extra,
                    "samples": r.samples.iter().map(|s| json!({
                        "secs": s.secs, "units": s.units, "solves": s.solves
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let goals: Vec<Value> = self
            .goals
            .iter()
            .map(|g| {
                let judged = self.judge(g);
                json!({
                    "row": g.row, "against": g.against, "text": g.text,
                    "limit": g.limit,
                    "metric": if g.metric == Metric::Time { "time_ratio" } else { "bandwidth_ratio" },
                    "value": judged.map(|j| json_f(j.0)),
                    "met": judged.map(|j| j.1),
                })
            })
            .collect();
        json!({
            "id": self.id, "title": self.title, "reference": self.reference,
            "rows": rows, "goals": goals, "notes": self.notes,
        })
    }
}

fn json_f(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

/// Three significant digits, thousands separated above 1000.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    if a >= 1000.0 {
        let s = format!("{:.0}", v);
        let (sign, digits) = s.split_at(if v < 0.0 { 1 } else { 0 });
        let mut out = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        format!("{sign}{out}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a == 0.0 {
        "0".into()
    } else {
        let digits = (2 - a.log10().floor() as i32).max(0) as usize;
        format!("{v:.digits$}")
    }
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn numbers_have_three_significant_digits() {
        assert_eq!(num(1234.4), "1,234");
        assert_eq!(num(123.4), "123");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1.234), "1.23");
        assert_eq!(num(0.01234), "0.0123");
        assert_eq!(num(1234567.0), "1,234,567");
    }
}
