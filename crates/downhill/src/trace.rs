//! The trace of a run: one typed record per kept iteration.
//!
//! Iterates are stored flat (`dim` numbers per record) so that a trace of a
//! long run costs about `8·(dim + 6)` bytes per kept record and nothing else.
//! A [`TracePolicy`] bounds the memory of very long runs: keep every record,
//! every k-th, only the first and the last, or (the default) as many as fit
//! in a memory budget, thinned evenly as the run goes on.

use serde::Serialize;
use std::io::Write;

use crate::objective::Variables;

/// Which iterations a [`Trace`] keeps. The start (iteration 0) and the final
/// iterate are always kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TracePolicy {
    /// Every iteration (the book's `results` list).
    All,
    /// Iterations `0, k, 2k, ...` plus the final one.
    Every(usize),
    /// Only the start and the final iterate.
    Ends,
    /// At most this many bytes: every record while they fit, then every
    /// 2nd, 4th, ... (the stride doubles and the stored records are thinned
    /// to match), so a run of any length keeps an evenly spread sample.
    /// Iterates whose single `x` would take more than 1/16 of the budget
    /// are not stored at all (only `f`, `‖∇f‖` and the step are).
    Budget(usize),
}

impl TracePolicy {
    /// The default: [`TracePolicy::Budget`] of 4 MiB.
    pub const DEFAULT: TracePolicy = TracePolicy::Budget(4 << 20);
}

impl Default for TracePolicy {
    fn default() -> Self {
        TracePolicy::DEFAULT
    }
}

/// One iteration as stored in a [`Trace`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Record<'a> {
    /// Iteration number `k` (0 is the start `x0`).
    pub iteration: usize,
    /// The iterate `x_k`.
    pub x: &'a [f64],
    /// `f(x_k)`.
    pub f: f64,
    /// `‖∇f(x_k)‖₂`.
    pub grad_norm: f64,
    /// `‖x_k − x_{k−1}‖₂` (0 at the start).
    pub step_norm: f64,
    /// How the step to `x_k` was made, when it was not the method's plain
    /// step (e.g. a Hessian repair, a fallback to `−∇f`).
    pub note: Option<&'static str>,
}

/// One stored record without its iterate (48 bytes).
#[derive(Clone, Copy, Debug)]
struct Entry {
    iteration: usize,
    f: f64,
    grad_norm: f64,
    step_norm: f64,
    note: Option<&'static str>,
}

impl Entry {
    fn of(record: &Record<'_>) -> Self {
        Entry {
            iteration: record.iteration,
            f: record.f,
            grad_norm: record.grad_norm,
            step_norm: record.step_norm,
            note: record.note,
        }
    }
}

/// The storage of short traces, kept per thread from one run to the next.
///
/// A run's trace outlives the run (it is in the result), so it cannot use
/// the driver's buffer pool (`scratch`). But for small problems a run is
/// short: a 2-D BFGS solve takes about 3–5 µs, and a `malloc` and `free` of
/// its few-KB trace (too large for the allocator's per-thread cache) were
/// about 2 % of its instructions (callgrind). A dropped trace leaves its vectors here,
/// the next [`Trace::reserve`] on this thread takes them; at most one pair
/// of at most [`kept::MAX_RECORDS`] records is kept.
mod kept {
    use super::Entry;
    use std::cell::RefCell;

    /// The most records a kept pair holds (about 6 KB for entries).
    pub(super) const MAX_RECORDS: usize = 128;
    /// The most iterate numbers a kept pair holds (32 KB).
    const MAX_NUMBERS: usize = 4096;

    thread_local! {
        static KEPT: RefCell<(Vec<Entry>, Vec<f64>)> =
            const { RefCell::new((Vec::new(), Vec::new())) };
    }

    /// The kept vectors (emptied) if they hold `entries` and `xs` numbers;
    /// empty vectors otherwise.
    pub(super) fn take(entries: usize, xs: usize) -> (Vec<Entry>, Vec<f64>) {
        KEPT.try_with(|kept| {
            let mut kept = kept.try_borrow_mut().ok()?;
            let (kept_entries, kept_xs) = &mut *kept;
            if kept_entries.capacity() < entries || kept_xs.capacity() < xs {
                return None;
            }
            Some((std::mem::take(kept_entries), std::mem::take(kept_xs)))
        })
        .ok()
        .flatten()
        .unwrap_or_default()
    }

    /// Keeps `entries` and `xs` (cleared) unless they are too large or a
    /// pair at least as large is kept already.
    pub(super) fn give_back(mut entries: Vec<Entry>, mut xs: Vec<f64>) {
        if entries.capacity() == 0 || entries.capacity() > MAX_RECORDS {
            return;
        }
        if xs.capacity() > MAX_NUMBERS {
            return;
        }
        // During thread teardown the slot may be gone: the vectors are freed.
        let _ = KEPT.try_with(|kept| {
            if let Ok(mut kept) = kept.try_borrow_mut() {
                if kept.0.capacity() < entries.capacity() {
                    entries.clear();
                    xs.clear();
                    *kept = (entries, xs);
                }
            }
        });
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        kept::give_back(
            std::mem::take(&mut self.entries),
            std::mem::take(&mut self.xs),
        );
    }
}

/// The last offered record, when the policy did not keep it.
#[derive(Clone, Debug)]
enum Pending {
    None,
    /// Held by [`Trace::push`] (its `x` in `Trace::pending_x`).
    Held(Entry),
    /// Skipped by the driver, which gives it to [`Trace::finish_with`].
    Skipped(usize),
}

/// Records of a run, kept according to a [`TracePolicy`].
#[derive(Clone, Debug)]
pub struct Trace {
    variables: Variables,
    policy: TracePolicy,
    entries: Vec<Entry>,
    xs: Vec<f64>,
    /// Budget policy: keep iterations that are multiples of `stride`, a
    /// power of two (`stride_mask = stride − 1`).
    stride: usize,
    stride_mask: usize,
    /// Budget policy: the most records that fit (at least 2).
    max_len: usize,
    /// Whether iterates are stored (false when one `x` is too large for the budget).
    keep_x: bool,
    /// Iterations offered so far (to report how much was thinned).
    offered: usize,
    pending: Pending,
    pending_x: Vec<f64>,
}

impl Trace {
    /// An empty trace for the given variable names.
    pub fn new(variables: impl Into<Variables>, policy: TracePolicy) -> Self {
        let variables = variables.into();
        let keep_x = match policy {
            TracePolicy::Budget(bytes) => 8 * variables.len() <= bytes / 16,
            _ => true,
        };
        let mut trace = Trace {
            stride: 1,
            stride_mask: 0,
            max_len: usize::MAX,
            keep_x,
            offered: 0,
            variables,
            policy,
            entries: Vec::new(),
            xs: Vec::new(),
            pending: Pending::None,
            pending_x: Vec::new(),
        };
        if let TracePolicy::Budget(bytes) = policy {
            // `len · record_bytes > bytes` exactly when `len > bytes / record_bytes`.
            trace.max_len = (bytes / trace.record_bytes()).max(2);
        }
        trace
    }

    /// Makes room for `records` more records without reallocating (within
    /// the policy's budget).
    pub fn reserve(&mut self, records: usize) {
        let records = match self.policy {
            TracePolicy::Budget(bytes) => records.min(bytes / self.record_bytes().max(1) + 1),
            TracePolicy::Ends => records.min(2),
            _ => records,
        };
        let d = if self.keep_x { self.dim() } else { 0 };
        if self.entries.capacity() == 0 && self.xs.capacity() == 0 {
            (self.entries, self.xs) = kept::take(records, records * d);
        }
        self.entries.reserve(records);
        self.xs.reserve(records * d);
    }

    /// Variable names, in order.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// The variable names as shared by the run's result (cheap to clone).
    pub fn names(&self) -> &Variables {
        &self.variables
    }

    /// Number of variables.
    pub fn dim(&self) -> usize {
        self.variables.len()
    }

    /// Whether the records hold their iterates `x` (false only for a
    /// [`TracePolicy::Budget`] too small for a single `x`).
    pub fn has_iterates(&self) -> bool {
        self.keep_x
    }

    /// How many records were offered (iterations 0..=k of the run), of
    /// which [`Trace::len`] were kept.
    pub fn offered(&self) -> usize {
        self.offered
    }

    /// The policy in force.
    pub fn policy(&self) -> TracePolicy {
        self.policy
    }

    /// Whether the record of `iteration` would be stored if offered now.
    #[inline]
    pub fn keeps(&self, iteration: usize) -> bool {
        match self.policy {
            TracePolicy::All => true,
            TracePolicy::Every(k) => iteration.is_multiple_of(k.max(1)),
            TracePolicy::Ends => iteration == 0,
            TracePolicy::Budget(_) => iteration & self.stride_mask == 0,
        }
    }

    fn record_bytes(&self) -> usize {
        let x = if self.keep_x { self.dim() } else { 0 };
        8 * (x + 4) + std::mem::size_of::<Option<&'static str>>()
    }

    /// Budget policy: while the stored records exceed the budget, double the
    /// stride and keep only the records on it (the start always stays).
    #[cold]
    fn thin_to_budget(&mut self) {
        while self.len() > self.max_len {
            self.stride = self.stride.saturating_mul(2);
            self.stride_mask = self.stride - 1;
            let d = if self.keep_x { self.dim() } else { 0 };
            let mut kept = 0;
            for i in 0..self.len() {
                if self.entries[i].iteration & self.stride_mask == 0 {
                    self.entries[kept] = self.entries[i];
                    self.xs.copy_within(i * d..(i + 1) * d, kept * d);
                    kept += 1;
                }
            }
            self.entries.truncate(kept);
            self.xs.truncate(kept * d);
        }
    }

    /// Offers a record; it is stored if the policy keeps it, otherwise held
    /// until [`Trace::finish`] in case it is the last.
    #[inline]
    pub fn push(&mut self, record: Record<'_>) {
        debug_assert_eq!(record.x.len(), self.dim());
        self.offered += 1;
        if self.keeps(record.iteration) {
            self.pending = Pending::None;
            self.store(record);
        } else {
            self.hold(record);
        }
    }

    /// Keeps `record` aside in case it is the last one.
    #[inline(never)]
    fn hold(&mut self, record: Record<'_>) {
        if self.keep_x {
            self.pending_x.clear();
            self.pending_x.extend_from_slice(record.x);
        }
        self.pending = Pending::Held(Entry::of(&record));
    }

    /// Offers the record of `iteration` without its data, for a caller that
    /// checked [`Trace::keeps`] is false: counted as offered, and if it is
    /// the last one, [`Trace::finish_with`] stores it. Cheaper than
    /// [`Trace::push`] for long runs, which copies the iterate it holds back.
    #[inline]
    pub fn skip(&mut self, iteration: usize) {
        debug_assert!(!self.keeps(iteration));
        self.offered += 1;
        self.pending = Pending::Skipped(iteration);
    }

    /// [`Trace::push`] for a record the caller checked [`Trace::keeps`]
    /// (the driver's per-iteration path: inlined, no second policy test).
    #[inline(always)]
    pub(crate) fn push_kept(&mut self, record: Record<'_>) {
        debug_assert!(self.keeps(record.iteration));
        debug_assert_eq!(record.x.len(), self.dim());
        self.offered += 1;
        self.pending = Pending::None;
        self.store(record);
    }

    #[inline(always)]
    fn store(&mut self, record: Record<'_>) {
        self.entries.push(Entry::of(&record));
        if self.keep_x {
            if record.x.len() <= 4 {
                // One push per component: inlines for the driver's constant
                // small n, where extend_from_slice calls out of line.
                self.xs.reserve(record.x.len());
                for &v in record.x {
                    self.xs.push(v);
                }
            } else {
                self.xs.extend_from_slice(record.x);
            }
        }
        if self.entries.len() > self.max_len {
            self.thin_to_budget();
        }
    }

    /// Stores the held-back final record, if any. Call this once, when the
    /// run ends (after the last [`Trace::push`]).
    ///
    /// # Panics
    ///
    /// If the last record was [skipped](Trace::skip): use [`Trace::finish_with`].
    pub fn finish(&mut self) {
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::Held(entry) => {
                let x = std::mem::take(&mut self.pending_x);
                self.store(Record {
                    iteration: entry.iteration,
                    x: if self.keep_x { &x } else { &[] },
                    f: entry.f,
                    grad_norm: entry.grad_norm,
                    step_norm: entry.step_norm,
                    note: entry.note,
                });
            }
            Pending::Skipped(iteration) => {
                panic!("Trace::finish: iteration {iteration} was skipped; use finish_with")
            }
            Pending::None => {}
        }
    }

    /// [`Trace::finish`] for a run that may have [skipped](Trace::skip)
    /// records: `last` is the last offered record, stored if it was skipped.
    pub fn finish_with(&mut self, last: Record<'_>) {
        match self.pending {
            Pending::Skipped(iteration) => {
                debug_assert_eq!(iteration, last.iteration);
                self.pending = Pending::None;
                self.store(last);
            }
            _ => self.finish(),
        }
    }

    /// Number of stored records.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `i`-th stored record (`x` is empty when iterates are not stored).
    pub fn get(&self, i: usize) -> Record<'_> {
        let d = if self.keep_x { self.dim() } else { 0 };
        let e = &self.entries[i];
        Record {
            iteration: e.iteration,
            x: &self.xs[i * d..(i + 1) * d],
            f: e.f,
            grad_norm: e.grad_norm,
            step_norm: e.step_norm,
            note: e.note,
        }
    }

    /// All stored records in order.
    pub fn records(&self) -> impl ExactSizeIterator<Item = Record<'_>> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// The stored iterates `x_k` (none when iterates are not stored).
    pub fn iterates(&self) -> impl Iterator<Item = &[f64]> + '_ {
        self.xs.chunks_exact(self.dim().max(1))
    }

    /// A sentence on what was thinned, if anything: `None` when every
    /// offered record was kept.
    pub fn thinning_note(&self) -> Option<String> {
        if self.len() >= self.offered && self.keep_x {
            return None;
        }
        let what = if self.keep_x {
            "iterates"
        } else {
            "records (without x: too large)"
        };
        Some(format!(
            "keeps {} of {} {what}{}",
            self.len(),
            self.offered,
            match self.policy {
                TracePolicy::Budget(bytes) => format!(
                    " (every {}-th, within {} KiB; --trace-every 1 keeps all)",
                    self.stride,
                    bytes / 1024
                ),
                TracePolicy::Every(k) => format!(" (every {k}-th)"),
                _ => String::new(),
            }
        ))
    }

    /// Writes `iteration,<vars...>,f,grad_norm,step_norm,note` rows as CSV.
    pub fn write_csv<W: Write>(&self, out: W) -> csv::Result<()> {
        let mut writer = csv::Writer::from_writer(out);
        let mut header = vec!["iteration".to_string()];
        if self.keep_x {
            header.extend(self.variables.iter().cloned());
        }
        header.extend(["f", "grad_norm", "step_norm", "note"].map(String::from));
        writer.write_record(&header)?;
        for r in self.records() {
            let mut row = vec![r.iteration.to_string()];
            row.extend(r.x.iter().map(|v| format_number(*v)));
            row.extend([r.f, r.grad_norm, r.step_norm].map(format_number));
            row.push(r.note.unwrap_or("").to_string());
            writer.write_record(&row)?;
        }
        writer.flush()?;
        Ok(())
    }

    /// The records as a JSON array of objects
    /// `{"iteration", "x": [...], "f", "grad_norm", "step_norm", "note"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.records()
                .map(|r| {
                    serde_json::json!({
                        "iteration": r.iteration,
                        "x": r.x.iter().map(|v| json_number(*v)).collect::<Vec<_>>(),
                        "f": json_number(r.f),
                        "grad_norm": json_number(r.grad_norm),
                        "step_norm": json_number(r.step_norm),
                        "note": r.note,
                    })
                })
                .collect(),
        )
    }
}

/// Shortest representation that reads back to the same f64 (`inf`, `-inf`, `nan` spelled out).
pub fn format_number(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{v:?}")
    }
}

/// A finite number as a JSON number; a non-finite one as the string `"inf"`,
/// `"-inf"` or `"nan"` (JSON has no such numbers, and `null` would hide them).
pub fn json_number(v: f64) -> serde_json::Value {
    if v.is_finite() {
        serde_json::json!(v)
    } else {
        serde_json::Value::String(format_number(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(policy: TracePolicy, n: usize) -> Trace {
        let mut t = Trace::new(vec!["x".to_string()], policy);
        for k in 0..=n {
            t.push(Record {
                iteration: k,
                x: &[k as f64],
                f: 0.0,
                grad_norm: 0.0,
                step_norm: 0.0,
                note: None,
            });
        }
        t.finish();
        t
    }

    #[test]
    fn every_k_keeps_multiples_and_the_last() {
        let t = filled(TracePolicy::Every(4), 10);
        let its: Vec<usize> = t.records().map(|r| r.iteration).collect();
        assert_eq!(its, vec![0, 4, 8, 10]);
        assert_eq!(t.get(3).x, &[10.0]);
    }

    #[test]
    fn ends_keeps_two_records() {
        let t = filled(TracePolicy::Ends, 1000);
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(1).iteration, 1000);
    }

    #[test]
    fn budget_thins_evenly_and_stays_within_bounds() {
        // 1-D records cost 8 * 5 + 16 = 56 bytes: 1000 bytes hold 17 of them.
        let t = filled(TracePolicy::Budget(1000), 100_000);
        assert!(t.len() * 56 <= 1000 + 56, "{}", t.len());
        assert!(t.len() >= 8, "{}", t.len());
        let its: Vec<usize> = t.records().map(|r| r.iteration).collect();
        assert_eq!(its[0], 0);
        assert_eq!(*its.last().unwrap(), 100_000, "the final record is kept");
        let stride = its[1];
        assert!(stride.is_power_of_two());
        for w in its[..its.len() - 1].windows(2) {
            assert_eq!(w[1] - w[0], stride, "evenly spread");
        }
        assert_eq!(t.offered(), 100_001);
        assert!(t.thinning_note().unwrap().contains("of 100001 iterates"));
        // Records keep their own x after thinning.
        for r in t.records() {
            assert_eq!(r.x, &[r.iteration as f64]);
        }
    }

    #[test]
    fn budget_keeps_short_runs_whole() {
        let t = filled(TracePolicy::DEFAULT, 1000);
        assert_eq!(t.len(), 1001);
        assert_eq!(t.thinning_note(), None);
    }

    #[test]
    fn budget_drops_iterates_too_large_to_store() {
        let mut t = Trace::new(vec!["x".to_string(); 100], TracePolicy::Budget(1000));
        let x = vec![1.0; 100];
        t.push(Record {
            iteration: 0,
            x: &x,
            f: 1.0,
            grad_norm: 2.0,
            step_norm: 0.0,
            note: None,
        });
        t.finish();
        assert!(!t.has_iterates());
        assert_eq!(t.get(0).x, &[] as &[f64]);
        assert_eq!(t.get(0).grad_norm, 2.0);
    }

    #[test]
    fn skip_and_finish_with_match_push_and_finish() {
        for policy in [
            TracePolicy::Every(3),
            TracePolicy::Ends,
            TracePolicy::Budget(1000),
            TracePolicy::All,
        ] {
            let pushed = filled(policy, 1000);
            let mut skipped = Trace::new(vec!["x".to_string()], policy);
            let record = |k: usize| Record {
                iteration: k,
                x: &[0.0],
                f: 0.0,
                grad_norm: 0.0,
                step_norm: 0.0,
                note: None,
            };
            let xs: Vec<[f64; 1]> = (0..=1000).map(|k| [k as f64]).collect();
            for (k, x) in xs.iter().enumerate() {
                if skipped.keeps(k) {
                    skipped.push(Record { x, ..record(k) });
                } else {
                    skipped.skip(k);
                }
            }
            skipped.finish_with(Record {
                x: &xs[1000],
                ..record(1000)
            });
            assert_eq!(skipped.offered(), pushed.offered(), "{policy:?}");
            let a: Vec<_> = skipped
                .records()
                .map(|r| (r.iteration, r.x.to_vec()))
                .collect();
            let b: Vec<_> = pushed
                .records()
                .map(|r| (r.iteration, r.x.to_vec()))
                .collect();
            assert_eq!(a, b, "{policy:?}");
        }
    }

    #[test]
    fn default_names_are_spelled_out_only_when_read() {
        use crate::objective::Variables;
        let names = Variables::numbered(3);
        assert_eq!(names.len(), 3);
        assert_eq!(names, ["x1", "x2", "x3"]);
        assert_eq!(Variables::numbered(1), ["x"]);
        // Given names equal to the defaults are not copied; others are kept.
        assert_eq!(
            Variables::from_names(&["x1".into(), "x2".into()]),
            Variables::numbered(2)
        );
        let custom = Variables::from(vec!["a".to_string(), "x2".to_string()]);
        assert_eq!(custom, vec!["a", "x2"]);
        assert_ne!(custom, Variables::numbered(2));
        assert_eq!(
            Variables::from_names(&["x01".into(), "x2".into()])[0],
            "x01"
        );
        assert_eq!(
            serde_json::to_string(&Variables::numbered(2)).unwrap(),
            r#"["x1","x2"]"#
        );
    }

    #[test]
    fn all_keeps_everything_once() {
        let t = filled(TracePolicy::All, 5);
        assert_eq!(t.len(), 6);
    }

    #[test]
    fn csv_has_header_and_rows() {
        let t = filled(TracePolicy::All, 2);
        let mut buf = Vec::new();
        t.write_csv(&mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(
            text,
            "iteration,x,f,grad_norm,step_norm,note\n0,0.0,0.0,0.0,0.0,\n1,1.0,0.0,0.0,0.0,\n2,2.0,0.0,0.0,0.0,\n"
        );
    }

    #[test]
    fn json_spells_out_non_finite_numbers() {
        let mut t = Trace::new(vec!["x".to_string()], TracePolicy::All);
        t.push(Record {
            iteration: 0,
            x: &[f64::INFINITY],
            f: f64::NAN,
            grad_norm: 1.0,
            step_norm: 0.0,
            note: Some("repaired"),
        });
        let j = t.to_json();
        assert_eq!(j[0]["x"][0], "inf");
        assert_eq!(j[0]["f"], "nan");
        assert_eq!(j[0]["grad_norm"], 1.0);
        assert_eq!(j[0]["note"], "repaired");
    }
}
