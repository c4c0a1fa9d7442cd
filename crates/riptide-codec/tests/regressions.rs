//! Replays every saved fuzz finding and boundary input in `tests/regressions/<target>/`
//! through the same harness function the fuzz target runs (`riptide_codec::harness`): none may
//! panic. Add a crash input to its target's directory to keep it fixed.

use std::path::Path;

#[test]
fn every_saved_input_replays_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let targets = riptide_codec::harness::targets();
    let mut replayed = 0;
    let mut failures = Vec::new();
    for dir in std::fs::read_dir(&root).expect("tests/regressions") {
        let dir = dir.expect("a directory entry").path();
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let Some(&(_, target)) = targets.iter().find(|(t, _)| *t == name) else {
            panic!("tests/regressions/{name} names no fuzz target");
        };
        for file in std::fs::read_dir(&dir).expect("a target directory") {
            let file = file.expect("a directory entry").path();
            let data = std::fs::read(&file).expect("a saved input");
            if std::panic::catch_unwind(|| target(&data)).is_err() {
                failures.push(file.display().to_string());
            }
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no saved inputs found");
    assert!(failures.is_empty(), "panicked on {failures:#?}");
}
