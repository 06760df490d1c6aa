#!/bin/sh
# PID 1 of the warpdrive VM guest (busybox sh). Placed at /init by test/vm/run.ts, next to the repo
# under /wd and the run's settings in /wd/.vm/run.env.
#
# Every line meant for the host starts with "WDVM " (see test/vm/report.ts). The result leaves the
# machine through QEMU's isa-debug-exit port 0xf4: a byte v makes QEMU exit with (v << 1) | 1.
#   v = 0: the command exited 0      v = 1: it exited non-zero      v = 2: the guest setup failed
# If this script dies, the kernel panics (init exited) and, with panic=-1 -no-reboot, QEMU exits 0,
# which the host reads as a failure: nothing here can turn a crash into a pass.

export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root TMPDIR=/tmp

say() { echo "WDVM $*"; }

leave() {
  say "exit $1"
  sync
  # The byte goes out as an octal escape; dd writes it at offset 0xf4 (244) of /dev/port.
  printf "\\$(printf '%03o' "$1")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
  say "error: writing port 0xf4 did not stop the machine"
  poweroff -f
}

setup_failed() {
  say "setup-failed $*"
  leave 2
}

mount -t proc proc /proc || setup_failed "mount /proc"
mount -t sysfs sysfs /sys || setup_failed "mount /sys"
mount -t devtmpfs devtmpfs /dev || setup_failed "mount /dev"
mkdir -p /dev/shm /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm || setup_failed "mount /dev/shm"
mount -t tmpfs -o mode=1777 tmpfs /tmp || setup_failed "mount /tmp"
ln -sf /proc/self/fd /dev/fd 2>/dev/null

say "boot uptime=$(cut -d' ' -f1 /proc/uptime) kernel=$(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo)"

[ -f /wd/.vm/run.env ] || setup_failed "no /wd/.vm/run.env (the code archive is missing)"
. /wd/.vm/run.env

# Modules, in the dependency order worked out on the host (/etc/wd-modules).
while read -r mod; do
  [ -n "$mod" ] || continue
  insmod "$mod" || setup_failed "insmod $mod"
done < /etc/wd-modules
say "modules loaded: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"

# Bind a PCI device, found by vendor:device, to vfio-pci; sets BDF and GROUP.
bind_vfio() {
  name=$1 vendor=$2 device=$3
  BDF=""
  GROUP=""
  for d in /sys/bus/pci/devices/*; do
    if [ "$(cat "$d/vendor")" = "$vendor" ] && [ "$(cat "$d/device")" = "$device" ]; then
      BDF=${d##*/}
      break
    fi
  done
  if [ -z "$BDF" ]; then
    say "device $name missing ($vendor:$device not on the PCI bus)"
    return 1
  fi
  d=/sys/bus/pci/devices/$BDF
  if [ ! -e "$d/iommu_group" ]; then
    say "device $name $BDF has no IOMMU group (is intel-iommu on the QEMU command line and intel_iommu=on on the kernel's?)"
    return 1
  fi
  if [ -e "$d/driver" ]; then
    echo "$BDF" > "$d/driver/unbind" || return 1
  fi
  echo vfio-pci > "$d/driver_override" || return 1
  echo "$BDF" > /sys/bus/pci/drivers_probe
  drv=$(readlink "$d/driver")
  if [ "${drv##*/}" != "vfio-pci" ]; then
    say "device $name $BDF did not bind to vfio-pci (driver: ${drv:-none})"
    return 1
  fi
  GROUP=$(readlink "$d/iommu_group")
  GROUP=${GROUP##*/}
  if [ ! -c "/dev/vfio/$GROUP" ]; then
    say "device $name $BDF: /dev/vfio/$GROUP missing"
    return 1
  fi
  say "device $name $BDF group=$GROUP vendor=$vendor device=$device"
}

bind_vfio edu 0x1234 0x11e8 || setup_failed "binding edu"
export WD_EDU_DEVICE=$BDF WD_DEVICE_QEMU_EDU=$BDF WD_EDU_GROUP=$GROUP
bind_vfio nvme 0x1b36 0x0010 || setup_failed "binding nvme"
export WD_NVME_DEVICE=$BDF WD_DEVICE_NVME=$BDF WD_NVME_GROUP=$GROUP
# virtio-blk and virtio-rng (modern, iommu_platform: test/vm/virtio-devices.ts)
bind_vfio virtio-blk 0x1af4 0x1042 || setup_failed "binding virtio-blk"
export WD_DEVICE_VIRTIO_BLK=$BDF WD_VIRTIO_BLK_GROUP=$GROUP
bind_vfio virtio-rng 0x1af4 0x1044 || setup_failed "binding virtio-rng"
export WD_DEVICE_VIRTIO_RNG=$BDF
export WD_BACKEND=vfio WD_VM_GUEST=1 WD_CACHE_DIR=/tmp/wd-cache
[ -f /wd/.vm/libwdmmio.so ] && export WD_MMIO_LIB=/wd/.vm/libwdmmio.so
[ -c /dev/vfio/vfio ] || setup_failed "/dev/vfio/vfio missing"

# wd-dummy as a VFIO mediated device (devices/wd-dummy/mdev/, appended by test/vm/mdev-module.ts when
# it builds): load it, create two instances. Never fatal: without it the wd-dummy tests skip on vfio.
mdev_wd_dummy() {
  [ -f /etc/wd-mdev-module ] || { say "mdev wd-dummy: no module in the image"; return 0; }
  ko=$(cat /etc/wd-mdev-module)
  insmod "$ko" || { say "mdev wd-dummy: insmod $ko failed"; return 0; }
  t=$(ls -d /sys/class/mdev_bus/*/mdev_supported_types/*-wd-dummy 2>/dev/null | head -n 1)
  [ -n "$t" ] || { say "mdev wd-dummy: no wd-dummy type under /sys/class/mdev_bus"; return 0; }
  u1=$(cat /proc/sys/kernel/random/uuid) u2=$(cat /proc/sys/kernel/random/uuid)
  echo "$u1" > "$t/create" && echo "$u2" > "$t/create" || { say "mdev wd-dummy: creating instances failed"; return 0; }
  export WD_DEVICE_WD_DUMMY=$u1 WD_DEVICE_WD_DUMMY_2=$u2
  say "mdev wd-dummy $u1 $u2 type=$t available=$(cat "$t/available_instances")"
}
mdev_wd_dummy

# UACCE (test/vm/uacce-module.ts appends uacce.ko, built from the kernel's own source, and our
# parents): loaded in the listed order. Never fatal: without them the uacce run finds no device.
uacce_modules() {
  [ -f /etc/wd-uacce-modules ] || { say "uacce: no modules in the image"; return 0; }
  while read -r ko; do
    [ -n "$ko" ] || continue
    insmod "$ko" || { say "uacce: insmod $ko failed"; return 0; }
  done < /etc/wd-uacce-modules
  for d in /sys/class/uacce/*; do
    [ -e "$d/api" ] && say "uacce ${d##*/} api=$(cat "$d/api") flags=$(cat "$d/flags") available=$(cat "$d/available_instances")"
  done
  return 0
}
uacce_modules
say "ready uptime=$(cut -d' ' -f1 /proc/uptime) WD_BACKEND=$WD_BACKEND WD_EDU_DEVICE=$WD_EDU_DEVICE WD_NVME_DEVICE=$WD_NVME_DEVICE WD_MMIO_LIB=${WD_MMIO_LIB:-none}"

cd /wd || setup_failed "cd /wd"
run_t=$(cut -d' ' -f1 /proc/uptime)
say "run-begin kind=$WDVM_KIND uptime=$run_t"
set -o pipefail
# The command's output goes to the console as it comes and to a file for the summary below.
sh -c "$WDVM_CMD" 2>&1 < /dev/null | tee /tmp/run.log
rc=$?
set +o pipefail
say "run-end rc=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"

if [ "$WDVM_KIND" = test ]; then
  count() { grep -E "^ *[0-9]+ $1\$" /tmp/run.log | tail -n 1 | tr -dc 0-9; }
  say "summary pass=$(count pass) fail=$(count fail) skip=$(count skip) todo=$(count todo) rc=$rc"
fi

if [ "$rc" != 0 ]; then
  # "quiet" keeps most kernel messages off the console: show what the kernel logged while the
  # command ran (DMAR faults, vfio messages), the last 40 lines.
  say "dmesg-begin (kernel messages since run-begin)"
  dmesg | awk -v t="$run_t" '{ if (match($0, /^\[ *[0-9]+\.[0-9]+\]/)) { ts = substr($0, 2, RLENGTH - 2) + 0; if (ts >= t) print } }' | tail -n 40
  say "dmesg-end"
  leave 1
fi
leave 0
