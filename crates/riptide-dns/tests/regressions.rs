//! Replays every saved fuzz input and boundary case in `tests/regressions/<target>/` through
//! the harness the fuzz target `<target>` runs (`riptide_dns::harness`), so a fixed bug stays
//! fixed without a nightly toolchain. Add a file there for each new crash.

use riptide_testkit::replay_regressions;
use std::path::Path;

#[test]
fn every_saved_input_replays_without_a_panic() {
    replay_regressions(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions"),
        &riptide_dns::harness::targets(),
    );
}
