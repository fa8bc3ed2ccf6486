//! Clipping polylines to the plot window, in data coordinates.
//!
//! Hand-written because plotters does not clip: it maps every point to `i32`
//! pixels (saturating far-away values) and its 1-pixel line rasteriser walks
//! every pixel between the ends, so one diverged iterate at 1e300 would hang
//! the renderer. Everything is clipped here, before it reaches plotters.

/// A closed rectangle `[x.0, x.1] × [y.0, y.1]` in data coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Window {
    pub x: (f64, f64),
    pub y: (f64, f64),
}

impl Window {
    /// Whether `p` is finite and inside the window (borders included).
    pub fn contains(&self, p: [f64; 2]) -> bool {
        p[0] >= self.x.0 && p[0] <= self.x.1 && p[1] >= self.y.0 && p[1] <= self.y.1
    }

    /// Liang–Barsky: the part of the segment `a → b` inside the window, or
    /// `None`. Segments with a non-finite end or extent are dropped.
    pub fn clip_segment(&self, a: [f64; 2], b: [f64; 2]) -> Option<([f64; 2], [f64; 2])> {
        let d = [b[0] - a[0], b[1] - a[1]];
        if !(a.iter().chain(&b).chain(&d).all(|v| v.is_finite())) {
            return None;
        }
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        let edges = [
            (-d[0], a[0] - self.x.0),
            (d[0], self.x.1 - a[0]),
            (-d[1], a[1] - self.y.0),
            (d[1], self.y.1 - a[1]),
        ];
        for (p, q) in edges {
            if p == 0.0 {
                if q < 0.0 {
                    return None;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
            }
        }
        if t0 > t1 {
            return None;
        }
        let at = |t: f64| {
            if t == 0.0 {
                a
            } else if t == 1.0 {
                b
            } else {
                [a[0] + t * d[0], a[1] + t * d[1]]
            }
        };
        Some((at(t0), at(t1)))
    }

    /// The visible pieces of a polyline: split where a point is non-finite
    /// and where the line leaves the window. Pieces have at least 2 points.
    pub fn clip_polyline(&self, points: &[[f64; 2]]) -> Vec<Vec<[f64; 2]>> {
        let mut pieces: Vec<Vec<[f64; 2]>> = Vec::new();
        let mut current: Vec<[f64; 2]> = Vec::new();
        for pair in points.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            match self.clip_segment(a, b) {
                Some((c0, c1)) => {
                    if current.last() != Some(&c0) {
                        flush(&mut pieces, &mut current);
                        current.push(c0);
                    }
                    current.push(c1);
                    if c1 != b {
                        flush(&mut pieces, &mut current);
                    }
                }
                None => flush(&mut pieces, &mut current),
            }
        }
        flush(&mut pieces, &mut current);
        pieces
    }
}

/// Ramer–Douglas–Peucker: drops points that lie within `tol` of the segment
/// between their kept neighbours (the ends are always kept). Keeps SVG files
/// small: a 4000-sample curve becomes a few hundred points, invisibly.
pub(crate) fn simplify(points: &[(f64, f64)], tol: f64) -> Vec<(f64, f64)> {
    if points.len() < 3 {
        return points.to_vec();
    }
    let mut keep = vec![false; points.len()];
    keep[0] = true;
    keep[points.len() - 1] = true;
    let mut stack = vec![(0, points.len() - 1)];
    while let Some((i, j)) = stack.pop() {
        let (a, b) = (points[i], points[j]);
        // Distance to the segment, not the line: a point beyond an end (a
        // path that turns back) is a corner to keep.
        let d = (b.0 - a.0, b.1 - a.1);
        let len2 = d.0 * d.0 + d.1 * d.1;
        let dist = |p: (f64, f64)| {
            let v = (p.0 - a.0, p.1 - a.1);
            let t = if len2 > 0.0 {
                ((v.0 * d.0 + v.1 * d.1) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            (v.0 - t * d.0).hypot(v.1 - t * d.1)
        };
        let far = (i + 1..j)
            .map(|k| (k, dist(points[k])))
            .fold((i, 0.0), |best, c| if c.1 > best.1 { c } else { best });
        if far.1 > tol {
            keep[far.0] = true;
            stack.push((i, far.0));
            stack.push((far.0, j));
        }
    }
    points
        .iter()
        .zip(keep)
        .filter_map(|(&p, k)| k.then_some(p))
        .collect()
}

fn flush(pieces: &mut Vec<Vec<[f64; 2]>>, current: &mut Vec<[f64; 2]>) {
    if current.len() >= 2 {
        pieces.push(std::mem::take(current));
    } else {
        current.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Window = Window {
        x: (0.0, 1.0),
        y: (0.0, 1.0),
    };

    #[test]
    fn inside_lines_pass_unchanged() {
        let line = [[0.1, 0.1], [0.5, 0.9], [0.9, 0.2]];
        assert_eq!(W.clip_polyline(&line), vec![line.to_vec()]);
    }

    #[test]
    fn lines_leaving_the_window_are_cut_at_the_border() {
        let line = [[0.5, 0.5], [1.5, 0.5], [1.5, 0.7], [0.5, 0.7]];
        assert_eq!(
            W.clip_polyline(&line),
            vec![vec![[0.5, 0.5], [1.0, 0.5]], vec![[1.0, 0.7], [0.5, 0.7]]]
        );
    }

    #[test]
    fn far_away_and_non_finite_points_are_harmless() {
        let line = [
            [0.5, 0.5],
            [1e300, 1e300],
            [f64::NAN, 0.0],
            [0.2, 0.2],
            [f64::INFINITY, 0.2],
            [-f64::MAX, 0.3],
            [f64::MAX, 0.3],
        ];
        let pieces = W.clip_polyline(&line);
        assert_eq!(pieces.len(), 1);
        assert_eq!(pieces[0][0], [0.5, 0.5]);
        assert!(pieces.iter().flatten().all(|&p| W.contains(p)));
        assert!(W.clip_segment([2.0, 2.0], [3.0, 5.0]).is_none());
    }

    #[test]
    fn simplify_keeps_corners_and_drops_collinear_points() {
        let pts: Vec<(f64, f64)> = (0..=10)
            .map(|i| (f64::from(i), 0.0))
            .chain((1..=10).map(|i| (10.0, f64::from(i))))
            .collect();
        assert_eq!(
            simplify(&pts, 0.01),
            vec![(0.0, 0.0), (10.0, 0.0), (10.0, 10.0)]
        );
        // A sharp reversal is a corner too.
        let back = [(0.0, 0.0), (5.0, 0.0), (1.0, 0.0)];
        assert_eq!(simplify(&back, 0.01), back.to_vec());
    }
}
