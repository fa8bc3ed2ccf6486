//! A fixed team of threads for the block loops of the large kernels.
//!
//! Why not rayon's pool: a job handed to rayon from outside its pool goes
//! through a global queue that allocates a block of slots every 63 jobs, so
//! a run of many passes would allocate (a little) per step. The team's
//! threads are started once per process and take work through a mutex, a
//! condition variable and an atomic counter, none of which allocates.
//!
//! One job at a time: a job started while the team is busy (another thread,
//! or a job inside a job) runs on the calling thread instead. Results do
//! not depend on which thread ran a block (blocks and their order are fixed
//! by the caller), so this changes only the speed.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock, TryLockError};

/// A job: called once for every block index in `0..count`.
type Job = dyn Fn(usize) + Sync;

/// A job reference with its lifetime erased; valid while `run` waits.
#[derive(Clone, Copy)]
struct JobPtr(*const Job);

// SAFETY: the pointee is `Sync` and outlives every use (see `Team::run`).
unsafe impl Send for JobPtr {}

struct Shared {
    epoch: u64,
    job: Option<JobPtr>,
    count: usize,
    /// Workers still on the current job.
    active: usize,
}

struct Team {
    busy: Mutex<()>,
    shared: Mutex<Shared>,
    start: Condvar,
    done: Condvar,
    next: AtomicUsize,
    panicked: AtomicBool,
    /// Threads started (besides the callers).
    workers: AtomicUsize,
}

thread_local! {
    static IN_JOB: Cell<bool> = const { Cell::new(false) };
}

fn team() -> &'static Team {
    static TEAM: OnceLock<&'static Team> = OnceLock::new();
    TEAM.get_or_init(|| {
        let threads = rayon::current_num_threads().max(1);
        let team: &'static Team = Box::leak(Box::new(Team {
            busy: Mutex::new(()),
            shared: Mutex::new(Shared {
                epoch: 0,
                job: None,
                count: 0,
                active: 0,
            }),
            start: Condvar::new(),
            done: Condvar::new(),
            next: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            workers: AtomicUsize::new(0),
        }));
        for k in 1..threads {
            let spawned = std::thread::Builder::new()
                .name(format!("downhill-large-{k}"))
                .spawn(move || team.work());
            // Fewer threads than planned still cover every block: the
            // caller takes part in each job.
            if spawned.is_ok() {
                team.workers.fetch_add(1, Ordering::SeqCst);
            }
        }
        team
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Team {
    /// Takes blocks until none is left.
    fn take_blocks(&self, job: &(dyn Fn(usize) + Sync + '_), count: usize) {
        loop {
            let b = self.next.fetch_add(1, Ordering::Relaxed);
            if b >= count {
                break;
            }
            job(b);
        }
    }

    fn work(&self) {
        IN_JOB.with(|j| j.set(true));
        let mut seen = 0;
        loop {
            let (job, count) = {
                let mut shared = lock(&self.shared);
                while shared.epoch == seen {
                    shared = self.start.wait(shared).unwrap_or_else(|e| e.into_inner());
                }
                seen = shared.epoch;
                match shared.job {
                    Some(job) => (job, shared.count),
                    None => continue,
                }
            };
            // SAFETY: `run` keeps the job alive until `active` drops to 0,
            // which happens only after this use.
            let job = unsafe { &*job.0 };
            if catch_unwind(AssertUnwindSafe(|| self.take_blocks(job, count))).is_err() {
                self.panicked.store(true, Ordering::SeqCst);
            }
            let mut shared = lock(&self.shared);
            shared.active -= 1;
            if shared.active == 0 {
                self.done.notify_all();
            }
        }
    }

    fn run<'a>(&self, count: usize, job: &'a (dyn Fn(usize) + Sync + 'a)) {
        let workers = self.workers.load(Ordering::SeqCst);
        let nested = IN_JOB.with(|j| j.get());
        let guard = match self.busy.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        };
        if nested || guard.is_none() || workers == 0 || count <= 1 {
            (0..count).for_each(job);
            return;
        }
        // SAFETY (lifetime erasure): this function does not return before
        // every worker has finished with the job (`active == 0` below).
        let erased = JobPtr(unsafe {
            std::mem::transmute::<*const (dyn Fn(usize) + Sync + 'a), *const Job>(job)
        });
        self.next.store(0, Ordering::Relaxed);
        self.panicked.store(false, Ordering::SeqCst);
        {
            let mut shared = lock(&self.shared);
            shared.job = Some(erased);
            shared.count = count;
            shared.active = workers;
            shared.epoch += 1;
        }
        self.start.notify_all();
        IN_JOB.with(|j| j.set(true));
        let mine = catch_unwind(AssertUnwindSafe(|| self.take_blocks(job, count)));
        IN_JOB.with(|j| j.set(false));
        let mut shared = lock(&self.shared);
        while shared.active > 0 {
            shared = self.done.wait(shared).unwrap_or_else(|e| e.into_inner());
        }
        shared.job = None;
        drop(shared);
        drop(guard);
        if let Err(payload) = mine {
            std::panic::resume_unwind(payload);
        }
        if self.panicked.load(Ordering::SeqCst) {
            panic!("a block of a large kernel panicked on a team thread");
        }
    }
}

/// Calls `job(b)` for every `b` in `0..count`, on the team's threads and the
/// calling one when `parallel`, else in order on the calling thread.
pub(crate) fn for_each_block(count: usize, parallel: bool, job: &(dyn Fn(usize) + Sync)) {
    if parallel {
        team().run(count, job);
    } else {
        (0..count).for_each(job);
    }
}

/// A pointer that may cross threads: the blocks it is sliced into are
/// disjoint, one per block index.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr<T>(pub *mut T);

impl<T> SendPtr<T> {
    /// The pointer (a method, so that closures capture the `Sync` wrapper
    /// rather than the raw field).
    pub(crate) fn get(self) -> *mut T {
        self.0
    }
}

// SAFETY: used only to hand disjoint parts of one buffer to the blocks.
unsafe impl<T: Send> Send for SendPtr<T> {}
unsafe impl<T: Send> Sync for SendPtr<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_block_runs_once_and_nested_jobs_run_inline() {
        let hits: Vec<AtomicUsize> = (0..100).map(|_| AtomicUsize::new(0)).collect();
        for_each_block(100, true, &|b| {
            hits[b].fetch_add(1, Ordering::Relaxed);
            if b == 3 {
                for_each_block(4, true, &|_| {});
            }
        });
        assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
    }

    #[test]
    fn a_panic_in_a_block_reaches_the_caller() {
        let result = catch_unwind(|| {
            for_each_block(64, true, &|b| {
                if b == 40 {
                    panic!("block 40");
                }
            })
        });
        assert!(result.is_err());
        // The team still works afterwards.
        let sum = AtomicUsize::new(0);
        for_each_block(10, true, &|b| {
            sum.fetch_add(b, Ordering::Relaxed);
        });
        assert_eq!(sum.load(Ordering::Relaxed), 45);
    }
}
