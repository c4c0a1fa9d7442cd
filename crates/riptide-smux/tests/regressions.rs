//! Replays every input of the fuzz corpus (`fuzz/corpus/<target>/`: the boundary seeds, and
//! each crash once fixed) through the harness the fuzz target `<target>` runs
//! (`riptide_smux::harness`), so a fixed bug stays fixed without a nightly toolchain.

use riptide_testkit::replay_regressions;
use std::path::Path;

#[test]
fn every_corpus_input_replays_without_a_panic() {
    replay_regressions(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus"),
        &riptide_smux::harness::targets(),
    );
}
