//! Replays every input of the fuzz corpus (`fuzz/corpus/<target>/`, the boundary seeds and any
//! saved finding) through the same harness function the fuzz target runs: none may panic.

use std::path::Path;

#[test]
fn every_corpus_input_replays_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let targets = riptide_ws::harness::targets();
    let mut replayed = 0;
    let mut failures = Vec::new();
    for (name, target) in &targets {
        let dir = root.join(name);
        for file in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let file = file.expect("a directory entry").path();
            let data = std::fs::read(&file).expect("a saved input");
            if std::panic::catch_unwind(|| target(&data)).is_err() {
                failures.push(file.display().to_string());
            }
            replayed += 1;
        }
    }
    assert!(replayed >= targets.len(), "no corpus found");
    assert!(failures.is_empty(), "panicked on {failures:#?}");
}
