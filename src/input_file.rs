//! Reading the files aku is given — the configuration (`--config`, `AKU_CONF`)
//! and the password file (`AKU_SYS_PASSWORD_FILE`): regular files only, and at
//! most a documented size, so that no path can make aku block or exhaust memory
//! (a FIFO would block forever, `/dev/zero` would be read until memory runs out).
//!
//! Symbolic links are followed (a Kubernetes Secret or ConfigMap volume is made of
//! them). The file is opened without blocking and judged by what was opened, so a
//! path swapped for a FIFO between a check and the open cannot block either.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The largest configuration file aku reads: 16 MiB (a 7.3 file of 500 000 items is about 10 MiB).
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// The largest password file aku reads: 64 KiB.
pub const MAX_PASSWORD_FILE_BYTES: u64 = 64 << 10;

/// Reads the whole regular file at `path`, of at most `max_bytes` bytes.
/// Errors: the open or read error of the system, or an `InvalidInput` error
/// saying `not a regular file (it is a named pipe)` or
/// `larger than 16777216 bytes (16 MiB), the limit for this file`.
pub fn read(path: &Path, max_bytes: u64) -> io::Result<Vec<u8>> {
    // O_NONBLOCK: opening a FIFO without a writer returns at once; it does not
    // change reads of a regular file. O_NOCTTY: a terminal never becomes ours.
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(invalid(format!("not a regular file (it is {})", kind(meta.file_type()))));
    }
    if meta.len() > max_bytes {
        return Err(too_large(max_bytes));
    }
    read_at_most(file, max_bytes)
}

/// The file's bytes, refused if it grew beyond `max_bytes` since it was measured.
fn read_at_most(file: File, max_bytes: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(max_bytes + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large(max_bytes));
    }
    Ok(bytes)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

fn too_large(max_bytes: u64) -> io::Error {
    invalid(format!("larger than {max_bytes} bytes ({}), the limit for this file", human(max_bytes)))
}

/// `16 MiB`, `64 KiB`, or bytes.
fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

fn kind(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a named pipe"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(path: &Path, max: u64) -> String {
        read(path, max).unwrap_err().to_string()
    }

    #[test]
    fn a_regular_file_up_to_the_limit_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read(&path, 10).unwrap(), b"0123456789");
        assert_eq!(message(&path, 9), "larger than 9 bytes (9 bytes), the limit for this file");
    }

    #[test]
    fn a_symbolic_link_to_a_regular_file_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("target"), b"pw\n").unwrap();
        std::os::unix::fs::symlink("target", dir.path().join("link")).unwrap();
        assert_eq!(read(&dir.path().join("link"), 64).unwrap(), b"pw\n");
    }

    #[test]
    fn what_is_not_a_regular_file_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        assert_eq!(message(&fifo, MAX_CONFIG_BYTES), "not a regular file (it is a named pipe)");
        assert_eq!(message(Path::new("/dev/zero"), MAX_CONFIG_BYTES), "not a regular file (it is a character device)");
        assert_eq!(message(dir.path(), MAX_CONFIG_BYTES), "not a regular file (it is a directory)");
    }

    #[test]
    fn limits_are_named_in_binary_units() {
        assert_eq!(human(MAX_CONFIG_BYTES), "16 MiB");
        assert_eq!(human(MAX_PASSWORD_FILE_BYTES), "64 KiB");
        assert_eq!(human(1000), "1000 bytes");
    }
}
