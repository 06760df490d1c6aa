#!/usr/bin/env bash
# Installs what `bun run test:vm` needs on a fresh Debian machine: QEMU (q35, TCG, intel-iommu, edu,
# nvme), qboot, busybox (static, the guest's userland and depmod), cpio, xz (to cut vmlinux out of
# the bzImage), dpkg-deb and apt-get download (the guest kernel, extracted never installed), ldd.
# Idempotent and quiet: installs only what is missing.
set -euo pipefail

need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_cmd qemu-system-x86_64 || need+=(qemu-system-x86)
[ -f /usr/share/qemu/qboot.rom ] || need+=(qemu-system-data)
[ -x /bin/busybox ] && file_is_static=$(ldd /bin/busybox 2>&1 | grep -c "not a dynamic" || true) || file_is_static=0
[ "${file_is_static:-0}" -ge 1 ] || need+=(busybox-static)
have_cmd cpio || need+=(cpio)
have_cmd xz || need+=(xz-utils)
have_cmd dpkg-deb || need+=(dpkg)
have_cmd ldd || need+=(libc-bin)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# test/vm finds the guest kernel with `apt-cache depends linux-image-amd64`: the lists must be there.
lists_ok() { apt-cache depends linux-image-amd64 2>/dev/null | grep -q 'Depends: linux-image-[0-9]'; }

if [ ${#need[@]} -eq 0 ]; then
  lists_ok || $SUDO apt-get update -qq >/dev/null
  echo "vm-deps: all present"
  exit 0
fi

echo "vm-deps: installing ${need[*]}"
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "vm-deps: done"
