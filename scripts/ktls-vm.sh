#!/usr/bin/env bash
# Kernel TLS for real, on a kernel that has it: boots Debian's cloud kernel (which ships the
# `tls` module) in QEMU with a tiny initramfs (busybox, the kernel's TLS and AEAD modules, and
# riptide-net's `ktls` integration test with the libraries it links), and runs that test there
# with RIPTIDE_EXPECT_KTLS=1: every connection must report that the kernel carries its
# records, and every echo must come back byte-exact. Host kernels without kTLS (like the
# development machine's) only exercise the user-space fallback; this is the kernel path.
#
# Needs apt-get (Debian's packages), jq and qemu-system-x86_64 (installed when missing). Downloads go to $KTLS_VM_CACHE (default
# ~/.cache/riptide-ktls-vm), so a second run is offline. Exit status 0 only when the test
# passed inside the VM. Run: npm run ktls-vm   (or scripts/ktls-vm.sh)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${KTLS_VM_CACHE:-$HOME/.cache/riptide-ktls-vm}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$cache"

# QEMU (about 40 MB of packages) and jq, from Debian, when missing.
for tool in qemu-system-x86_64:qemu-system-x86 jq:jq; do
  if ! command -v "${tool%%:*}" >/dev/null; then
    echo "ktls-vm: installing ${tool#*:}" >&2
    (apt-get install -y -qq --no-install-recommends "${tool#*:}" ||
      (apt-get update -qq && apt-get install -y -qq --no-install-recommends "${tool#*:}")) >/dev/null
  fi
done

# The newest cloud kernel package and busybox, fetched once.
image=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if ! ls "$cache/$image"_*.deb >/dev/null 2>&1 || ! ls "$cache"/busybox-static_*.deb >/dev/null 2>&1; then
  (cd "$cache" && apt-get download "$image" busybox-static >/dev/null)
fi
dpkg-deb -x "$(ls "$cache/$image"_*.deb | head -1)" "$work/kernel"
dpkg-deb -x "$(ls "$cache"/busybox-static_*.deb | head -1)" "$work/busybox"
release=$(ls "$work/kernel/lib/modules")
busybox="$work/busybox/bin/busybox"

# The test binary as `cargo test` builds it (so CI reuses its build), with the shared
# libraries it links (glibc, libgcc_s) copied next to it.
echo "ktls-vm: building the ktls test" >&2
binary=$(cd "$root" && cargo test -p riptide-net --test ktls --no-run --message-format=json 2>/dev/null |
  jq -r 'select(.reason == "compiler-artifact" and .target.name == "ktls" and .executable != null) | .executable' | tail -1)
[ -x "$binary" ] || { echo "ktls-vm: the test binary did not build" >&2; exit 1; }

# The initramfs: busybox, the TLS module and the AEADs it may ask the crypto API for.
initrd="$work/initrd"
mkdir -p "$initrd"/{bin,sbin,dev,proc,sys,tmp,lib/modules/"$release"/kernel}
cp "$busybox" "$initrd/bin/busybox"
ln -s busybox "$initrd/bin/sh"
ln -s ../bin/busybox "$initrd/sbin/modprobe"
for dir in net/tls crypto lib/crypto arch/x86/crypto; do
  mkdir -p "$initrd/lib/modules/$release/kernel/$dir"
  cp -r "$work/kernel/lib/modules/$release/kernel/$dir/." "$initrd/lib/modules/$release/kernel/$dir/"
done
cp "$work/kernel/lib/modules/$release"/modules.{builtin,order} "$initrd/lib/modules/$release/" 2>/dev/null || true
"$busybox" depmod -b "$initrd" "$release"
cp "$binary" "$initrd/ktls"
for lib in $(ldd "$binary" | grep -o '/[^ ]*'); do
  mkdir -p "$initrd$(dirname "$lib")"
  cp -L "$lib" "$initrd$lib"
done
cat > "$initrd/init" <<'EOF'
#!/bin/sh
export PATH=/bin:/sbin
busybox mount -t proc proc /proc
busybox mount -t sysfs sys /sys
busybox mount -t devtmpfs dev /dev
busybox ip link set lo up
echo /sbin/modprobe > /proc/sys/kernel/modprobe
for m in tls gcm ghash_generic ctr chacha20poly1305 chacha_generic poly1305_generic; do
  busybox modprobe "$m" || echo "ktls-vm: modprobe $m failed"
done
echo "ktls-vm: available ULPs: $(cat /proc/sys/net/ipv4/tcp_available_ulp)"
RIPTIDE_EXPECT_KTLS=1 /ktls --test-threads=1 --nocapture
echo "ktls-vm: test exit $?"
busybox poweroff -f
EOF
chmod +x "$initrd/init"
(cd "$initrd" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1) > "$work/initrd.gz"

# QEMU emulates (TCG): about 35 s for boot and test, and it works everywhere. KVM is faster
# where it works, but on the nested-virtualised project machine it fails at boot (an
# "emulation failure" on cmpxchg16b, or a silent hang without cx16), so it is opt-in:
# KTLS_VM_ACCEL="-enable-kvm -cpu host".
accel=(-accel tcg -cpu max)
if [ -n "${KTLS_VM_ACCEL:-}" ]; then read -ra accel <<<"$KTLS_VM_ACCEL"; fi
echo "ktls-vm: booting $release (${accel[*]})" >&2
log="$cache/console.log"
timeout "${KTLS_VM_TIMEOUT:-600}" qemu-system-x86_64 "${accel[@]}" -m 1024 -smp 2 -nographic -no-reboot \
  -kernel "$work/kernel/boot/vmlinuz-$release" -initrd "$work/initrd.gz" \
  -append "console=ttyS0 earlyprintk=ttyS0 panic=-1" </dev/null | tee "$log" | grep -E '^(ktls|test |running|test result)' || true

if grep -q 'ktls-vm: test exit 0' "$log" && grep -q 'kernel=true' "$log" && ! grep -q 'kernel=false' "$log"; then
  echo "ktls-vm: PASS (console log: $log)" >&2
else
  echo "ktls-vm: FAIL; the console's last lines ($log):" >&2
  tail -25 "$log" >&2
  exit 1
fi
