#!/usr/bin/env bash
# Installs what `bun run test:vm` needs on a fresh Debian machine: QEMU (q35, TCG, intel-iommu, edu,
# nvme), qboot, busybox (static, the guest's userland and depmod), cpio, xz (to cut vmlinux out of
# the bzImage), dpkg-deb and apt-get download (the guest kernel, extracted never installed), ldd.
# linux-headers-<guest kernel release>, make, gcc (the wd-dummy mdev module). The second guest kernel
# (`bun run test:vm -- --kernel 6.12`) and its headers come from bookworm-backports, added to apt's
# sources here once. Idempotent and quiet: installs only what is missing.
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

# bookworm-backports, for the 6.12 guest kernel: a sources entry of our own when no source names the
# suite yet (apt gives backports priority 100, so nothing on the host moves to it by itself).
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
backports=""
if [ "$codename" = bookworm ]; then
  backports=bookworm-backports
  if ! grep -rqs "$backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$backports" |
      $SUDO tee /etc/apt/sources.list.d/wd-bookworm-backports.sources >/dev/null
    echo "vm-deps: added $backports to apt's sources"
  fi
fi
# The 6.12 kernel's linux-image-amd64 version in backports (empty when the lists do not know it).
bpo_version() { apt-cache madison linux-image-amd64 2>/dev/null | awk -v s="$backports" '$0 ~ s && $3 ~ /^6\.12\./ { print $3; exit }'; }

lists_ok || { $SUDO apt-get update -qq >/dev/null; updated=1; }
if [ -n "$backports" ] && [ -z "$(bpo_version)" ] && [ "$updated" = 0 ]; then $SUDO apt-get update -qq >/dev/null; updated=1; fi
kver=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/.*Depends: linux-image-\([0-9][^ ]*\).*/\1/p' | head -n 1)
if [ -n "$kver" ] && [ ! -f "/usr/src/linux-headers-$kver/Makefile" ]; then need+=("linux-headers-$kver"); fi
# The 6.12 headers come from backports with their own dependencies (linux-kbuild-6.12, ...).
need_bpo=()
bpo=$(bpo_version)
if [ -n "$bpo" ]; then
  kver612=$(apt-cache depends "linux-image-amd64=$bpo" 2>/dev/null | sed -n 's/.*Depends: linux-image-\([0-9][^ ]*\).*/\1/p' | head -n 1)
  if [ -n "$kver612" ] && [ ! -f "/usr/src/linux-headers-$kver612/Makefile" ]; then need_bpo+=("linux-headers-$kver612"); fi
fi

if [ ${#need[@]} -eq 0 ] && [ ${#need_bpo[@]} -eq 0 ]; then
  echo "vm-deps: all present"
  exit 0
fi

[ "$updated" = 1 ] || $SUDO apt-get update -qq >/dev/null
if [ ${#need[@]} -gt 0 ]; then
  echo "vm-deps: installing ${need[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ ${#need_bpo[@]} -gt 0 ]; then
  echo "vm-deps: installing ${need_bpo[*]} from $backports"
  $SUDO apt-get install -y -qq --no-install-recommends -t "$backports" "${need_bpo[@]}" >/dev/null
fi
echo "vm-deps: done"
