//! Writing to standard output and standard error without ever panicking
//! (`println!` panics on a closed pipe or a full disk, exit code 101).
//!
//! Every byte aku prints — reports (`-i`, `-v`, `-s`), the `-p` banner lines and
//! the log lines (through [`LogWriter`]) — goes through [`stdout`]. A write that
//! fails is classified once, for the whole process:
//! - a closed pipe (`aku -i | head -1`) ends output quietly, as in ripgrep: nothing
//!   more is written and nothing is reported;
//! - any other error (`aku -i > /dev/full`) is reported once on standard error,
//!   and nothing more is written to standard output.
//!
//! The run goes on either way: for `-p` the procedure's own exit code stands; a
//! command whose output is its result (`-i`, `-v`, `-s`) asks [`result_code`].
//! Writes to standard error ignore errors: there is nowhere left to report them.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU8, Ordering};

use crate::exit_code;

/// What became of standard output so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything was written.
    Written,
    /// The reader went away (EPIPE): the rest of the output was dropped quietly.
    Closed,
    /// Another write error (disk full, I/O error), reported once on standard error.
    Failed,
}

const WRITTEN: u8 = 0;
const CLOSED: u8 = 1;
const FAILED: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(WRITTEN);

/// The state of standard output for the whole process.
pub fn outcome() -> Outcome {
    match STATE.load(Ordering::SeqCst) {
        WRITTEN => Outcome::Written,
        CLOSED => Outcome::Closed,
        _ => Outcome::Failed,
    }
}

/// How a write error is classified: a closed pipe is not a failure.
pub fn classify(error: &io::Error) -> Outcome {
    if error.kind() == io::ErrorKind::BrokenPipe { Outcome::Closed } else { Outcome::Failed }
}

/// Writes `text` to standard output and flushes it. After a first failed
/// write nothing more is written; see the module doc for what is reported.
pub fn stdout(text: &str) {
    write_bytes(text.as_bytes());
}

/// [`stdout`] with a line end.
pub fn stdout_line(text: &str) {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    stdout(&line);
}

/// One line on standard error (errors of the command itself). A failure to
/// write it is ignored.
pub fn stderr_line(text: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{text}");
    let _ = err.flush();
}

fn write_bytes(bytes: &[u8]) {
    if STATE.load(Ordering::SeqCst) != WRITTEN {
        return;
    }
    let mut out = io::stdout().lock();
    let Err(error) = out.write_all(bytes).and_then(|()| out.flush()) else {
        return;
    };
    drop(out);
    record(&error);
}

/// Records the first failure of standard output; reports it if it is not a closed pipe.
fn record(error: &io::Error) {
    let new = match classify(error) {
        Outcome::Closed => CLOSED,
        _ => FAILED,
    };
    if STATE.compare_exchange(WRITTEN, new, Ordering::SeqCst, Ordering::SeqCst).is_ok() && new == FAILED {
        stderr_line(&format!("aku: cannot write to standard output: {error}"));
    }
}

/// The exit code of a command whose output is its result (`-i`, `-v`, `-s`):
/// `code`, or [`exit_code::INTERNAL`] when writing the output failed. A closed
/// pipe keeps `code`: the reader chose to stop reading.
pub fn result_code(code: i32) -> i32 {
    if outcome() == Outcome::Failed { exit_code::INTERNAL } else { code }
}

/// The exit code after a text was printed by someone else (clap's help and
/// usage errors): `code`, or [`exit_code::INTERNAL`] when printing failed for
/// another reason than a closed pipe (reported once, as for [`stdout`]).
pub fn printed(result: io::Result<()>, code: i32) -> i32 {
    if let Err(error) = result {
        record(&error);
    }
    result_code(code)
}

/// The log writer of `tracing-subscriber`: standard output through [`stdout`].
/// It never reports an error to the subscriber (which would print its own
/// message on standard error for every event).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write_bytes(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pipe_is_not_a_failure() {
        assert_eq!(classify(&io::Error::from(io::ErrorKind::BrokenPipe)), Outcome::Closed);
        assert_eq!(classify(&io::Error::from_raw_os_error(libc::ENOSPC)), Outcome::Failed);
        assert_eq!(classify(&io::Error::from_raw_os_error(libc::EIO)), Outcome::Failed);
    }
}
