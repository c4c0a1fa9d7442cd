//! Replaying saved fuzz inputs. Each protocol crate keeps its fuzz findings, crash inputs and
//! boundary cases in `tests/regressions/<target>/` and replays them on every `cargo test`
//! through the same harness function its cargo-fuzz target runs, so a fixed bug stays fixed
//! without a nightly toolchain.

use std::path::Path;

/// A fuzz harness: one input, which must never panic.
pub type Harness = fn(&[u8]);

/// Runs every file under `root/<target>/` through that target's harness in `targets`, in
/// name order, and fails naming every input that panicked. A directory that names no target
/// fails too (a renamed target would otherwise silently stop replaying), as does a target
/// directory with no inputs or a `root` with none at all.
pub fn replay_regressions(root: &Path, targets: &[(&str, Harness)]) {
    let mut dirs: Vec<_> = read_sorted(root);
    dirs.retain(|p| p.is_dir());
    assert!(
        !dirs.is_empty(),
        "no target directories in {}",
        root.display()
    );
    let mut failures = Vec::new();
    for dir in dirs {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let Some(&(_, harness)) = targets.iter().find(|(t, _)| *t == name) else {
            panic!("{} names no fuzz target", dir.display());
        };
        let files: Vec<_> = read_sorted(&dir)
            .into_iter()
            .filter(|p| p.is_file())
            .collect();
        assert!(!files.is_empty(), "no inputs in {}", dir.display());
        for file in files {
            let data = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            if std::panic::catch_unwind(|| harness(&data)).is_err() {
                failures.push(file.display().to_string());
            }
        }
    }
    assert!(failures.is_empty(), "panicked on {failures:#?}");
}

/// The entries of `dir`, sorted by path.
fn read_sorted(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .collect();
    paths.sort();
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet(_: &[u8]) {}

    fn panics_on_x(data: &[u8]) {
        assert!(!data.contains(&b'x'), "x");
    }

    fn fixture(files: &[(&str, &[u8])]) -> tempdir::Dir {
        let dir = tempdir::Dir::new();
        for (path, data) in files {
            let path = dir.0.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, data).unwrap();
        }
        dir
    }

    mod tempdir {
        /// A directory removed on drop.
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                use std::sync::atomic::{AtomicUsize, Ordering};
                static N: AtomicUsize = AtomicUsize::new(0);
                let path = std::env::temp_dir().join(format!(
                    "riptide-testkit-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&path).unwrap();
                Dir(path)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn replays_every_input_of_every_target() {
        let dir = fixture(&[("a/1", b"ok"), ("b/1", b"fine"), ("b/2", b"")]);
        replay_regressions(&dir.0, &[("a", quiet), ("b", panics_on_x)]);
    }

    #[test]
    #[should_panic(expected = "panicked on")]
    fn names_the_input_that_panics() {
        let dir = fixture(&[("a/ok", b"ok"), ("a/bad", b"xx")]);
        replay_regressions(&dir.0, &[("a", panics_on_x)]);
    }

    #[test]
    #[should_panic(expected = "names no fuzz target")]
    fn a_directory_without_a_target_fails() {
        let dir = fixture(&[("gone/1", b"ok")]);
        replay_regressions(&dir.0, &[("a", quiet)]);
    }

    #[test]
    #[should_panic(expected = "no inputs")]
    fn an_empty_target_directory_fails() {
        let dir = fixture(&[("a/1", b"ok")]);
        std::fs::create_dir(dir.0.join("b")).unwrap();
        replay_regressions(&dir.0, &[("a", quiet), ("b", quiet)]);
    }
}
