//! SIGINT and SIGTERM for the commands that write outputs: the unfinished
//! corpora's temporary directories and the output files' temporary files are
//! removed before the process dies of the signal, as it would have without
//! the handler. No destructor runs on a signal, so without this an
//! interrupted `generate`, `vectorize` or `import` leaves a `.NAME.tmp-XXXX`
//! directory beside its output, and `fit`, `transform` or `vectorize
//! --export` interrupted while writing leave `.topicmill-XXXX.tmp` files.
//!
//! The handler only records the signal (an atomic store, async-signal-safe);
//! a thread that looks every 20 ms does the removing, then restores the
//! default action and raises the signal again, so that the parent sees the
//! process killed by it (exit status 130 for SIGINT in a shell). A signal
//! the process was started ignoring stays ignored.

#[cfg(unix)]
mod unix {
    use std::os::raw::c_int;
    use std::sync::atomic::{AtomicI32, Ordering};
    use std::time::Duration;

    use topicmill_sparse::CorpusWriter;

    /// POSIX numbers, the same on every Unix.
    const SIGINT: c_int = 2;
    const SIGTERM: c_int = 15;
    /// `SIG_DFL`, the default action, is the null handler; `SIG_IGN` is 1.
    const SIG_DFL: usize = 0;
    const SIG_IGN: usize = 1;

    // The C library's, which the standard library links on every Unix.
    extern "C" {
        fn signal(signum: c_int, handler: usize) -> usize;
        fn raise(sig: c_int) -> c_int;
    }

    /// The signal received, 0 before.
    static RECEIVED: AtomicI32 = AtomicI32::new(0);

    extern "C" fn on_signal(sig: c_int) {
        RECEIVED.store(sig, Ordering::SeqCst);
    }

    pub fn remove_unfinished_outputs_on_signal() {
        for sig in [SIGINT, SIGTERM] {
            // SAFETY: `on_signal` has the C signature of a handler and only
            // stores to an atomic, which is async-signal-safe. A signal the
            // process was started ignoring (a background job's SIGINT,
            // `nohup`) stays ignored.
            unsafe {
                if signal(sig, on_signal as extern "C" fn(c_int) as usize) == SIG_IGN {
                    signal(sig, SIG_IGN);
                }
            }
        }
        std::thread::spawn(|| loop {
            std::thread::sleep(Duration::from_millis(20));
            let sig = RECEIVED.load(Ordering::SeqCst);
            if sig != 0 {
                crate::output::remove_staged();
                CorpusWriter::remove_unfinished();
                // SAFETY: restoring the default action and raising the signal
                // again ends the process as the signal would have.
                unsafe {
                    signal(sig, SIG_DFL);
                    raise(sig);
                }
                std::process::exit(128 + sig);
            }
        });
    }
}

/// Installs the handlers (once per process; a no-op off Unix).
pub fn remove_unfinished_outputs_on_signal() {
    #[cfg(unix)]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(unix::remove_unfinished_outputs_on_signal);
    }
}
