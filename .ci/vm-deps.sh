#!/usr/bin/env bash
# Installs what `bun run test:vm` needs on a fresh Debian machine: QEMU (q35, TCG, intel-iommu, edu,
# nvme), qboot, busybox (static, the guest's userland and depmod), cpio, xz (to cut vmlinux out of
# the bzImage), dpkg-deb and apt-get download (the guest kernel, extracted never installed), ldd.
# linux-headers-<guest kernel release>, make, gcc (the wd-dummy mdev module). Idempotent and quiet: installs only what is missing.
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

# The wd-dummy mdev module (devices/wd-dummy/mdev/) is built for the guest's kernel: the headers of
# the very release linux-image-amd64 points at, found the way test/vm/guest-image.ts finds the image.
have_cmd make || need+=(make)
have_cmd gcc || need+=(gcc)
updated=0
lists_ok || { $SUDO apt-get update -qq >/dev/null; updated=1; }
kver=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: linux-image-\([0-9][^ ]*\).*/\1/p' | head -n 1)
if [ -n "$kver" ] && [ ! -f "/usr/src/linux-headers-$kver/Makefile" ]; then need+=("linux-headers-$kver"); fi

if [ ${#need[@]} -eq 0 ]; then
  echo "vm-deps: all present"
  exit 0
fi

echo "vm-deps: installing ${need[*]}"
[ "$updated" = 1 ] || $SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "vm-deps: done"
