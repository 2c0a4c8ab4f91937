//! SIGTERM and SIGINT end a run as its deadline does: what was known so far in one result line
//! (outcome `interrupted`, exit 143 or 130 as a shell reports a process ended by the signal),
//! and the heal lock released, so the next run need not wait for the Lease to expire.

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::exit;

/// Which signal ended the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Interrupt {
    /// SIGTERM (kill, Kubernetes' pod termination).
    Term,
    /// SIGINT (Ctrl-C).
    Int,
}

impl Interrupt {
    /// The exit code: 128 + the signal number.
    pub(super) fn exit_code(self) -> i32 {
        match self {
            Interrupt::Term => exit::INTERRUPTED_TERM,
            Interrupt::Int => exit::INTERRUPTED_INT,
        }
    }

    /// The signal's name.
    pub(super) fn name(self) -> &'static str {
        match self {
            Interrupt::Term => "SIGTERM",
            Interrupt::Int => "SIGINT",
        }
    }
}

/// Both signals, listened to from the start of the run (from then on they no longer kill the
/// process by default).
pub(super) struct Signals {
    term: Option<Signal>,
    int: Option<Signal>,
}

impl Signals {
    /// Starts listening; a signal that cannot be listened to keeps its default action.
    pub(super) fn listen() -> Signals {
        let hook = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!("failed to listen for {name}: {e}");
                None
            }
        };
        Signals { term: hook(SignalKind::terminate(), "SIGTERM"), int: hook(SignalKind::interrupt(), "SIGINT") }
    }

    /// The next SIGTERM or SIGINT.
    pub(super) async fn recv(&mut self) -> Interrupt {
        async fn next(s: &mut Option<Signal>) {
            if let Some(s) = s
                && s.recv().await.is_some()
            {
                return;
            }
            std::future::pending().await
        }
        tokio::select! {
            () = next(&mut self.term) => Interrupt::Term,
            () = next(&mut self.int) => Interrupt::Int,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_128_plus_the_signal() {
        assert_eq!(Interrupt::Term.exit_code(), 128 + libc::SIGTERM);
        assert_eq!(Interrupt::Int.exit_code(), 128 + libc::SIGINT);
    }
}
