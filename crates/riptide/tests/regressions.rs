//! Replays every saved fuzz input, crash and boundary case in `tests/regressions/<target>/`
//! through the harness the fuzz target `<target>` runs (`riptide::fuzzing`), so a fixed bug
//! stays fixed without a nightly toolchain. Add a file there for each new crash.

use riptide_testkit::{replay_regressions, Harness};
use std::path::Path;

#[test]
fn every_saved_input_replays_without_a_panic() {
    replay_regressions(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions"),
        &[
            ("tls", riptide::fuzzing::tls as Harness),
            ("http_ws", riptide::fuzzing::http_ws as Harness),
        ],
    );
}
