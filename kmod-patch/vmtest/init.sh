#!/bin/sh
# /init of the test initramfs (busybox). Loads the modules, runs the guest
# tests, dumps the kernel log and powers off.
echo "=== INIT"
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mode=unknown
for a in $(cat /proc/cmdline); do
	case "$a" in uacce_mode=*) mode=${a#uacce_mode=} ;; esac
done
# No modprobe in the guest: requests for crypto modules must not hang
echo /bin/true-does-not-exist > /proc/sys/kernel/modprobe 2>/dev/null
for m in $(cat /mods/order); do
	insmod "/mods/$m" 2>/dev/null
done
insmod /mods/uacce.ko || echo "insmod uacce.ko failed"
# Four devices of each kind: the ZIP removal tests take one each (four), the SEC ones two
insmod /mods/uacce_soft.ko devices=4 queues=8 depth=1024 || echo "insmod uacce_soft.ko failed"
echo "=== TESTS BEGIN"
/bin/guest --mode "$mode"
echo "=== TESTS END rc=$?"
if [ -x /bin/polling-vs-interrupt ]; then
	# The tests removed devices and unloaded the modules: fresh soft devices,
	# one of each kind, for a quick run of the report on the kernel device
	insmod /mods/uacce.ko 2>/dev/null
	insmod /mods/uacce_soft.ko devices=1 queues=8 depth=1024
	devs=""
	for d in /sys/class/uacce/*; do devs="$devs${devs:+,}${d##*/}"; done
	echo "=== PVI BEGIN"
	/bin/polling-vs-interrupt --backend hw --device "$devs" \
		--quick --secs 0.2 --depths 1,16 --jobs gzip-4k,sha256-4k \
		--json /tmp/pvi.json 2>/tmp/pvi.err
	rc=$?
	# stderr is the progress bar; shown only on failure
	[ "$rc" = 0 ] || cat /tmp/pvi.err
	echo "=== PVI END rc=$rc"
fi
echo "=== DMESG BEGIN"
dmesg
echo "=== DMESG END"
echo o > /proc/sysrq-trigger
sleep 5
