fn main() {
    napi_build::setup();
    // For windows-gnu, napi-build links `-lnode` from the directory in LIBNODE_PATH (see
    // scripts/windows-smoke.sh) but does not ask cargo to rerun when it changes, so a build
    // would keep a stale search path: ask here.
    println!("cargo:rerun-if-env-changed=LIBNODE_PATH");
}
