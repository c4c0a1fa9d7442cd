//! Building the Go programs that interop tests run as peers (`tests/interop/<name>`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the Go program in `src` into `bin`; `None` (with a note naming `what` was skipped)
/// when no Go toolchain is on `PATH`. A failed build fails the test with the compiler's output.
pub fn go_build(src: &Path, bin: &Path, what: &str) -> Option<PathBuf> {
    let have_go = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_go {
        eprintln!("NOTE: `go` is not on PATH: skipped {what}");
        return None;
    }
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(bin)
        .arg(".")
        .current_dir(src)
        .output()
        .expect("run go build");
    assert!(
        out.status.success(),
        "go build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(bin.to_path_buf())
}

/// Runs a Go peer built by [`go_build`] with `args` to completion and returns its standard
/// output, trimmed (the interop peers print one JSON line). A peer that exits with an error
/// fails the test with both of its outputs.
pub fn run_go_peer(bin: &Path, args: &[&str]) -> String {
    let out = Command::new(bin)
        .args(args)
        .output()
        .expect("run the Go peer");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{} failed: {stdout}\n{}",
        bin.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.trim().to_owned()
}
