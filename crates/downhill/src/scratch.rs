//! Working buffers kept per thread from one run to the next.
//!
//! A run's internal vectors (the driver's gradients and Hessian, the Newton
//! solver's matrix) die with the run. Allocated afresh, a small problem pays
//! a `malloc` and a `free` for each, and a large one fresh pages from the
//! OS: glibc hands megabytes back on `free`, so a dense Newton run at
//! d = 500 took about 950 page faults (two 2 MB matrices), more than the
//! rest of its overhead against faer called directly (W4). Such buffers
//! come from [`zeros`] and go back through [`give_back`] into a small
//! per-thread pool instead.

use std::cell::RefCell;

/// Buffers kept per thread: a run holds up to four (two gradients, the
/// Hessian, the solver's matrix).
const SLOTS: usize = 4;

/// The most `f64`s a kept buffer may hold (8 MiB, a 1024 × 1024 matrix):
/// larger ones are freed as usual, so a thread keeps at most 32 MiB after
/// its runs. (Above that size a run's arithmetic outweighs its page faults.)
const MAX_KEPT: usize = 1 << 20;

thread_local! {
    static POOL: RefCell<[Vec<f64>; SLOTS]> =
        const { RefCell::new([Vec::new(), Vec::new(), Vec::new(), Vec::new()]) };
}

/// Whether `count` values of `T` can be allocated now (above
/// [`PROBE_BYTES`], a probe reserved and freed at once; below, yes without
/// a probe, so small runs allocate nothing more). Sizes read from files
/// and options are checked with it before their buffers are made, so an
/// impossible one is an error that says what it was for, not an abort
/// ("memory allocation of N bytes failed").
pub(crate) fn can_allocate<T>(count: usize) -> bool {
    match count.checked_mul(std::mem::size_of::<T>()) {
        Some(bytes) if bytes <= PROBE_BYTES => true,
        Some(_) => Vec::<T>::new().try_reserve_exact(count).is_ok(),
        None => false,
    }
}

/// The size from which [`can_allocate`] probes (64 MiB).
const PROBE_BYTES: usize = 64 << 20;

/// `bytes` as gigabytes for messages, e.g. `"80.0 GB"`.
pub(crate) fn gigabytes(bytes: f64) -> String {
    format!("{:.1} GB", bytes / 1e9)
}

/// `len` zeros, in the smallest kept buffer that holds them if there is one.
pub(crate) fn zeros(len: usize) -> Vec<f64> {
    if len == 0 {
        return Vec::new();
    }
    let kept = POOL
        .try_with(|pool| {
            let mut pool = pool.try_borrow_mut().ok()?;
            let best = pool
                .iter_mut()
                .filter(|buffer| buffer.capacity() >= len)
                .min_by_key(|buffer| buffer.capacity())?;
            Some(std::mem::take(best))
        })
        .ok()
        .flatten();
    match kept {
        Some(mut buffer) => {
            buffer.clear();
            buffer.resize(len, 0.0);
            buffer
        }
        None => fresh_zeros(len),
    }
}

/// Keeps `buffer` for a later [`zeros`] on this thread, in place of the
/// smallest kept one if all slots are taken; too large or empty buffers
/// are simply dropped.
pub(crate) fn give_back(buffer: Vec<f64>) {
    if buffer.capacity() == 0 || buffer.capacity() > MAX_KEPT {
        return;
    }
    // During thread teardown the pool may be gone: the buffer is freed.
    let _ = POOL.try_with(|pool| {
        if let Ok(mut pool) = pool.try_borrow_mut() {
            let slot = pool
                .iter_mut()
                .min_by_key(|kept| kept.capacity())
                .expect("SLOTS > 0");
            if slot.capacity() < buffer.capacity() {
                *slot = buffer;
            }
        }
    });
}

/// `len` zeros from the allocator. Small vectors come from `malloc`
/// (calloc bypasses the allocator's per-thread cache); large ones from
/// `calloc` (zero pages are mapped lazily, nothing is written).
pub(crate) fn fresh_zeros(len: usize) -> Vec<f64> {
    if len <= 512 {
        let mut v = Vec::with_capacity(len);
        v.resize(len, 0.0);
        v
    } else {
        vec![0.0; len]
    }
}

#[cfg(test)]
mod tests {
    use super::{give_back, zeros, MAX_KEPT, POOL};

    #[test]
    fn kept_buffers_come_back_zeroed_and_best_fitting() {
        let mut small = zeros(3);
        small.fill(7.0);
        let small_ptr = small.as_ptr();
        let mut large = zeros(1000);
        large.fill(7.0);
        let large_ptr = large.as_ptr();
        give_back(large);
        give_back(small);
        // The smallest buffer that fits: the small one for 2 entries...
        let again = zeros(2);
        assert_eq!(again, [0.0; 2]);
        assert_eq!(again.as_ptr(), small_ptr);
        // ...the large one for 600, zeroed.
        let big = zeros(600);
        assert_eq!(big.as_ptr(), large_ptr);
        assert!(big.iter().all(|v| *v == 0.0) && big.len() == 600);
        // Nothing kept fits: a fresh buffer.
        assert_eq!(zeros(5000).len(), 5000);
    }

    #[test]
    fn oversized_buffers_are_not_kept() {
        give_back(Vec::with_capacity(MAX_KEPT + 1));
        give_back(Vec::new());
        POOL.with(|pool| assert!(pool.borrow().iter().all(|kept| kept.capacity() == 0)));
        give_back(Vec::with_capacity(MAX_KEPT));
        POOL.with(|pool| assert!(pool.borrow().iter().any(|kept| kept.capacity() >= MAX_KEPT)));
    }
}
