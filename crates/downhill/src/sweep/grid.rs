//! The grid of a sweep: one axis per start coordinate and one for the
//! learning rate, each a single value or `start:stop:count` evenly spaced
//! values (numpy's `linspace`, both ends included).

use std::fmt;

/// Evenly spaced values `start, …, stop` (both included), as numpy's
/// `linspace(start, stop, count)`; one value (`count == 1`) is `start`.
///
/// ```
/// use downhill::sweep::Axis;
/// let a = Axis::parse("-1:1:5").unwrap();
/// assert_eq!(a.values(), [-1.0, -0.5, 0.0, 0.5, 1.0]);
/// assert_eq!(Axis::parse("0.3").unwrap().values(), [0.3]);
/// assert!(Axis::parse("0:1:0").unwrap_err().contains("count"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Axis {
    /// First value.
    pub start: f64,
    /// Last value (equal to `start` for a single value).
    pub stop: f64,
    /// Number of values, at least 1.
    pub count: usize,
}

impl Axis {
    /// A single value.
    pub fn single(value: f64) -> Axis {
        Axis {
            start: value,
            stop: value,
            count: 1,
        }
    }

    /// `count` evenly spaced values from `start` to `stop`.
    ///
    /// # Errors
    /// `count == 0`, or a non-finite end.
    pub fn linspace(start: f64, stop: f64, count: usize) -> Result<Axis, String> {
        if !start.is_finite() || !stop.is_finite() {
            return Err(format!(
                "the ends of a range must be finite numbers, got {start} and {stop}"
            ));
        }
        if count == 0 {
            return Err("the count of a range must be at least 1".into());
        }
        Ok(Axis { start, stop, count })
    }

    /// Parses a plain number (`0.5`, `-3`, `1e-2`) or a range
    /// `start:stop:count` (`-20:20:1000`; the count a whole number ≥ 1).
    /// Errors quote the offending text.
    pub fn parse(text: &str) -> Result<Axis, String> {
        let t = text.trim();
        let number = |s: &str, what: &str| -> Result<f64, String> {
            match s.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                Ok(_) => Err(format!("'{t}': the {what} '{}' is not finite", s.trim())),
                Err(_) => Err(format!(
                    "'{t}': the {what} '{}' is not a number (expected a number or start:stop:count, e.g. -20:20:1000)",
                    s.trim()
                )),
            }
        };
        let parts: Vec<&str> = t.split(':').collect();
        match parts.as_slice() {
            [value] => {
                if value.trim().is_empty() {
                    return Err(
                        "empty value (expected a number or start:stop:count, e.g. -20:20:1000)"
                            .into(),
                    );
                }
                Ok(Axis::single(number(value, "value")?))
            }
            [start, stop, count] => {
                let start = number(start, "start")?;
                let stop = number(stop, "stop")?;
                let count: usize = count.trim().parse().map_err(|_| {
                    format!(
                        "'{t}': the count '{}' is not a whole number >= 1",
                        count.trim()
                    )
                })?;
                if count == 0 {
                    return Err(format!("'{t}': the count must be at least 1, got 0"));
                }
                if count == 1 && start != stop {
                    return Err(format!(
                        "'{t}': a range of 1 value needs start = stop (write the single number instead)"
                    ));
                }
                Axis::linspace(start, stop, count).map_err(|e| format!("'{t}': {e}"))
            }
            _ => Err(format!(
                "'{t}' is not a number or a range start:stop:count (e.g. -20:20:1000)"
            )),
        }
    }

    /// Whether the axis has more than one value.
    pub fn varies(&self) -> bool {
        self.count > 1
    }

    /// The `i`-th value: `start + i·(stop − start)/(count − 1)`, exactly
    /// `stop` for the last one.
    pub fn value(&self, i: usize) -> f64 {
        self.value_spaced(i, self.spacing())
    }

    /// `(stop − start) / (count − 1)`, the spacing of the values (0 for a
    /// single value).
    pub fn spacing(&self) -> f64 {
        if self.count <= 1 {
            0.0
        } else {
            (self.stop - self.start) / (self.count - 1) as f64
        }
    }

    /// [`Axis::value`] with its [`Axis::spacing`] computed once by the
    /// caller.
    fn value_spaced(&self, i: usize, spacing: f64) -> f64 {
        if self.count <= 1 || i == 0 {
            self.start
        } else if i + 1 == self.count {
            self.stop
        } else {
            self.start + i as f64 * spacing
        }
    }

    /// Every value, in order (each as [`Axis::value`]).
    pub fn values(&self) -> Vec<f64> {
        let spacing = self.spacing();
        (0..self.count)
            .map(|i| self.value_spaced(i, spacing))
            .collect()
    }
}

impl fmt::Display for Axis {
    /// `0.5` for a single value, `-20:20:1000` for a range.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.count == 1 {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}:{}:{}", self.start, self.stop, self.count)
        }
    }
}

/// The grid of a sweep: an axis per start coordinate (`x0`, one per
/// variable) and optionally one for the learning rate. Cells are numbered
/// row-major over the axes in the order `x0[0], x0[1], …, eta`: the last
/// axis varies fastest.
///
/// ```
/// use downhill::sweep::{Axis, Grid};
/// let grid = Grid::new(vec![Axis::parse("-20:20:5").unwrap()], Some(Axis::parse("0.1:0.3:3").unwrap())).unwrap();
/// assert_eq!(grid.len(), 15);
/// assert_eq!(grid.shape(), [5, 3]);
/// assert_eq!(grid.cell(4), (vec![-10.0], Some(0.2)));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    x0: Vec<Axis>,
    eta: Option<Axis>,
    len: usize,
    /// [`Axis::values`] of every axis, in the order of [`Grid::axes`]: a
    /// cell's start point and learning rate are then look-ups (computed
    /// per cell they were most of the cost of setting up a batch of cells).
    values: Vec<Vec<f64>>,
}

/// At most this many start coordinates may vary (a map is drawn over two axes).
pub const MAX_X_AXES: usize = 2;

impl Grid {
    /// A grid over the start coordinates `x0` and the learning rates `eta`
    /// (`None`: the method's own default or none).
    ///
    /// # Errors
    /// No start coordinate, more than [`MAX_X_AXES`] varying start
    /// coordinates, or a number of cells that does not fit in `usize`.
    pub fn new(x0: Vec<Axis>, eta: Option<Axis>) -> Result<Grid, String> {
        if x0.is_empty() {
            return Err("the start point has no coordinates".into());
        }
        let varying = x0.iter().filter(|a| a.varies()).count();
        if varying > MAX_X_AXES {
            return Err(format!(
                "{varying} start coordinates are ranges; at most {MAX_X_AXES} may be (a sweep maps one or two start coordinates)"
            ));
        }
        let len = x0
            .iter()
            .chain(&eta)
            .try_fold(1usize, |n, a| n.checked_mul(a.count))
            .ok_or_else(|| "the grid has too many cells to count".to_string())?;
        let values = x0.iter().chain(&eta).map(Axis::values).collect();
        Ok(Grid {
            x0,
            eta,
            len,
            values,
        })
    }

    /// The axes of the start coordinates, one per variable.
    pub fn x0(&self) -> &[Axis] {
        &self.x0
    }

    /// The learning-rate axis, if any.
    pub fn eta(&self) -> Option<&Axis> {
        self.eta.as_ref()
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the grid has no cells (never: every axis has a value).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The number of values of every axis, `x0` axes first, then `eta` if
    /// present (axes of one value included).
    pub fn shape(&self) -> Vec<usize> {
        self.axes().map(|a| a.count).collect()
    }

    /// All axes in cell order: `x0[0], …, x0[n−1]`, then `eta` if present.
    pub fn axes(&self) -> impl Iterator<Item = &Axis> {
        self.x0.iter().chain(&self.eta)
    }

    /// The axes that vary, as (position in [`Grid::axes`], axis).
    pub fn varying(&self) -> Vec<(usize, &Axis)> {
        self.axes()
            .enumerate()
            .filter(|(_, a)| a.varies())
            .collect()
    }

    /// The index of cell `cell` along every axis (same order as [`Grid::axes`]).
    pub fn indices(&self, cell: usize) -> Vec<usize> {
        let shape = self.shape();
        let mut rest = cell;
        let mut out = vec![0; shape.len()];
        for (k, &n) in shape.iter().enumerate().rev() {
            out[k] = rest % n;
            rest /= n;
        }
        out
    }

    /// The start point and learning rate of cell `cell`.
    pub fn cell(&self, cell: usize) -> (Vec<f64>, Option<f64>) {
        let mut x0 = vec![0.0; self.x0.len()];
        let eta = self.cell_into(cell, &mut x0);
        (x0, eta)
    }

    /// The values of every axis ([`Axis::values`]), in the order of
    /// [`Grid::axes`]: the cell with the axis indices `index`
    /// ([`Grid::indices`]) starts at `x0[k] = tables()[k][index[k]]`, with
    /// the learning rate `tables()[n][index[n]]` if there is an `eta` axis.
    pub(crate) fn tables(&self) -> &[Vec<f64>] {
        &self.values
    }

    /// Steps the axis indices `index` ([`Grid::indices`]) to those of the
    /// next cell (the last axis fastest); past the last cell they wrap to 0.
    pub(crate) fn next_index(&self, index: &mut [usize]) {
        for k in (0..index.len()).rev() {
            let count = match self.x0.get(k) {
                Some(a) => a.count,
                None => self.eta.map_or(1, |a| a.count),
            };
            index[k] += 1;
            if index[k] < count {
                return;
            }
            index[k] = 0;
        }
    }

    /// Writes the start point of `cell` into `x0` and returns its learning rate.
    pub(crate) fn cell_into(&self, cell: usize, x0: &mut [f64]) -> Option<f64> {
        let mut rest = cell;
        let eta = self.eta.map(|a| {
            let i = rest % a.count;
            rest /= a.count;
            a.value(i)
        });
        for (x, a) in x0.iter_mut().zip(&self.x0).rev() {
            *x = a.value(rest % a.count);
            rest /= a.count;
        }
        eta
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_matches_numpy_ends() {
        let a = Axis::parse("0.01:3:1000").unwrap();
        assert_eq!(a.value(0), 0.01);
        assert_eq!(a.value(999), 3.0);
        assert!((a.value(500) - (0.01 + 500.0 * 2.99 / 999.0)).abs() < 1e-15);
    }

    /// Counting the indices up cell by cell gives every cell's indices,
    /// and the tables give its start point and learning rate, as computed
    /// from the cell number; every table entry is its axis's value.
    #[test]
    fn next_index_walks_the_cells_in_order() {
        let g = Grid::new(
            vec![
                Axis::parse("-1:1:3").unwrap(),
                Axis::parse("0:2:4").unwrap(),
            ],
            Some(Axis::parse("0.01:3:5").unwrap()),
        )
        .unwrap();
        for (axis, table) in g.axes().zip(g.tables()) {
            assert_eq!(table.len(), axis.count);
            for (i, v) in table.iter().enumerate() {
                assert_eq!(v.to_bits(), axis.value(i).to_bits());
            }
        }
        let mut index = g.indices(0);
        let mut b = vec![0.0; 2];
        for cell in 0..g.len() {
            assert_eq!(index, g.indices(cell), "cell {cell}");
            let a: Vec<f64> = (0..2).map(|k| g.tables()[k][index[k]]).collect();
            let eta = Some(g.tables()[2][index[2]]);
            assert_eq!(eta, g.cell_into(cell, &mut b), "cell {cell}");
            assert_eq!(a, b, "cell {cell}");
            g.next_index(&mut index);
        }
        assert_eq!(index, vec![0, 0, 0]);
    }

    #[test]
    fn cells_are_row_major_with_eta_fastest() {
        let g = Grid::new(
            vec![
                Axis::parse("0:1:2").unwrap(),
                Axis::parse("10:12:3").unwrap(),
            ],
            Some(Axis::parse("0.5:1:2").unwrap()),
        )
        .unwrap();
        assert_eq!(g.len(), 12);
        assert_eq!(g.cell(0), (vec![0.0, 10.0], Some(0.5)));
        assert_eq!(g.cell(1), (vec![0.0, 10.0], Some(1.0)));
        assert_eq!(g.cell(2), (vec![0.0, 11.0], Some(0.5)));
        assert_eq!(g.cell(11), (vec![1.0, 12.0], Some(1.0)));
        assert_eq!(g.indices(7), vec![1, 0, 1]);
    }
}
