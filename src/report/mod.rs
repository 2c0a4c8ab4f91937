//! Reporting: stages emit [`Event`]s to a [`Reporter`], which numbers them and hands each
//! [`Envelope`] to a [`Sink`] (NDJSON, legacy or human); [`sink_for`] picks one.

pub mod human;
pub mod legacy;

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::cli::OutputMode;
use crate::events::{Envelope, Event, FORMAT_VERSION};

/// Where envelopes go.
pub trait Sink: Send {
    /// Renders one envelope.
    fn event(&mut self, envelope: &Envelope);
    /// Called after the `result` event: clear spinners, flush.
    fn finish(&mut self) {}
}

/// The stdout sink for an output mode.
pub fn sink_for(mode: OutputMode) -> Box<dyn Sink> {
    match mode {
        OutputMode::Ndjson => Box::new(NdjsonSink(std::io::stdout())),
        OutputMode::Legacy => Box::new(legacy::LegacySink(std::io::stdout())),
        OutputMode::Human => Box::new(human::HumanSink::stdout()),
    }
}

struct State {
    seq: u64,
    run: String,
    service: String,
    namespace: String,
    sink: Box<dyn Sink>,
}

/// Numbers events and passes them to the sink. Cheap to clone; safe to share across tasks.
#[derive(Clone)]
pub struct Reporter {
    state: Arc<Mutex<State>>,
}

impl Reporter {
    /// A reporter for one run.
    pub fn new(
        run: impl Into<String>,
        service: impl Into<String>,
        namespace: impl Into<String>,
        sink: Box<dyn Sink>,
    ) -> Self {
        Reporter {
            state: Arc::new(Mutex::new(State {
                seq: 0,
                run: run.into(),
                service: service.into(),
                namespace: namespace.into(),
                sink,
            })),
        }
    }

    /// Emits one event with the next sequence number.
    pub fn emit(&self, event: Event) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.seq += 1;
        let is_result = matches!(event, Event::Result(_));
        let envelope = Envelope {
            v: FORMAT_VERSION,
            seq: s.seq,
            ts: jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            run: s.run.clone(),
            service: s.service.clone(),
            namespace: s.namespace.clone(),
            event,
        };
        s.sink.event(&envelope);
        if is_result {
            s.sink.finish();
        }
    }
}

/// Prints `self-heal: <message>` on stderr, control characters (ESC, BEL, C1, newlines)
/// replaced so that cluster-controlled text cannot drive a terminal. A stderr that is closed
/// or gone (`2>&-`, a reader that exited) is ignored: the run keeps its exit code.
pub fn stderr_line(message: &str) {
    let line = format!("self-heal: {}\n", crate::names::strip_controls(message.trim_end()));
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes()).and_then(|()| err.flush());
}

/// Makes sure descriptors 0, 1 and 2 are open (on `/dev/null` when the parent closed them, as
/// with `2>&-`), so that no file or socket opened later takes their place and receives what
/// is meant for stdout or stderr. Call first thing in `main`.
pub fn reserve_std_fds() {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // open() returns the lowest free descriptor: while that is 0, 1 or 2, keep it there.
        for _ in 0..3 {
            let Ok(f) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") else { return };
            if f.as_raw_fd() > 2 {
                return;
            }
            std::mem::forget(f);
        }
    }
}

/// One compact JSON object per line, flushed per line.
pub struct NdjsonSink<W: Write + Send>(pub W);

impl<W: Write + Send> Sink for NdjsonSink<W> {
    fn event(&mut self, envelope: &Envelope) {
        if let Ok(line) = serde_json::to_string(envelope) {
            // A closed stdout (caller gone) must not abort the heal.
            let _ = writeln!(self.0, "{line}").and_then(|_| self.0.flush());
        }
    }
}

/// A writer tests can read back after a sink owns it.
#[cfg(test)]
pub(crate) mod testing {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// Shared bytes: clone one into the sink, read the other.
    #[derive(Clone, Default)]
    pub(crate) struct Shared(pub(crate) Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().write(b)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
