#!/bin/sh
# /init of the test initramfs (busybox). Loads the modules, runs the guest
# tests, dumps the kernel log and powers off.
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
# Three devices of each kind: two removal tests per kind take one each
insmod /mods/uacce_soft.ko devices=3 queues=8 depth=1024 || echo "insmod uacce_soft.ko failed"
echo "=== TESTS BEGIN"
/bin/guest --mode "$mode"
echo "=== TESTS END rc=$?"
echo "=== DMESG BEGIN"
dmesg
echo "=== DMESG END"
echo o > /proc/sysrq-trigger
sleep 5
