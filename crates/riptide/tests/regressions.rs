//! Replays every saved fuzz input, crash and attack in `tests/regressions/<target>/` through
//! the harness the fuzz target `<target>` runs (`riptide::fuzzing`), so a fixed bug stays
//! fixed without a nightly toolchain. Add a file there for each new crash.

use std::path::Path;

fn replay(target: &str, harness: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/regressions")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    for file in files {
        let data = std::fs::read(&file).unwrap();
        eprintln!("{target}: {}", file.display());
        let run = std::panic::catch_unwind(|| harness(&data));
        if let Err(e) = run {
            eprintln!("{target}: {} fails", file.display());
            std::panic::resume_unwind(e);
        }
    }
}

#[test]
fn tls_regressions() {
    replay("tls", riptide::fuzzing::tls);
}
