#!/bin/bash
# Apply check: the series in ../patches must apply with patch -p1 and no fuzz
# to Debian's linux-source-6.12 and linux-source-6.1 trees. For 6.1, a patch
# in ../patches-6.1 replaces the mainline patch with the same number and the
# others are applied in number order. If linux-headers for a 6.1
# kernel happen to be installed, the 6.1 uacce.c is also compiled.
# Uses the trees run.sh extracted into $UACCE_VMTEST_CACHE (extracts the
# needed files itself otherwise).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
KMOD=$(cd "$HERE/.." && pwd)
CACHE=${UACCE_VMTEST_CACHE:-/var/tmp/uacce-vmtest}
rc=0
for v in 6.12 6.1; do
	tarball=/usr/src/linux-source-$v.tar.xz
	[ -f "$tarball" ] || { echo "missing $tarball (apt-get install linux-source-$v)"; exit 1; }
	src=$CACHE/src-$v/linux-source-$v
	if [ ! -f "$src/drivers/misc/uacce/uacce.c" ]; then
		mkdir -p "$CACHE/src-$v"
		tar -xJf "$tarball" -C "$CACHE/src-$v" --wildcards \
			"linux-source-$v/drivers/misc/uacce/*" \
			"linux-source-$v/drivers/crypto/hisilicon/*" \
			"linux-source-$v/Documentation/misc-devices/*" \
			"linux-source-$v/include/linux/uacce.h" \
			"linux-source-$v/include/uapi/misc/uacce/*"
	fi
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	# Every file the patches touch, from the pristine tree
	files=$(cat "$KMOD"/patches/*.patch "$KMOD"/patches-6.1/*.patch |
		sed -n 's|^+++ b/||p' | sort -u)
	(cd "$src" && cp --parents $files "$work/")
	series=("$KMOD"/patches/*.patch)
	if [ "$v" = 6.1 ]; then
		# A 6.1 patch replaces the mainline patch with the same number;
		# the others slot in by number.
		declare -A byno=()
		for p in "${series[@]}" "$KMOD"/patches-6.1/*.patch; do
			n=$(basename "$p" | cut -c1-4)
			byno[$n]=$p
		done
		mapfile -t series < <(for n in "${!byno[@]}"; do echo "$n ${byno[$n]}"; done |
			sort | cut -d' ' -f2-)
		unset byno
	fi
	for p in "${series[@]}"; do
		if out=$(cd "$work" && patch -p1 -F0 --no-backup-if-mismatch <"$p" 2>&1) &&
			! grep -qi fuzz <<<"$out"; then
			echo "ok $v $(basename "$p")"
		else
			echo "FAIL $v $(basename "$p"):"; echo "$out"; rc=1
		fi
	done
	if [ "$v" = 6.1 ]; then
		kb=$(ls -d /lib/modules/6.1.*/build 2>/dev/null | head -1 || true)
		if [ -n "$kb" ]; then
			d=$work/build && mkdir -p "$d/include/linux" "$d/include/uapi/misc/uacce"
			cp "$work/drivers/misc/uacce/uacce.c" "$d/"
			cp "$work/include/linux/uacce.h" "$d/include/linux/"
			cp "$src/include/uapi/misc/uacce/"*.h "$d/include/uapi/misc/uacce/"
			cp "$work/include/uapi/misc/uacce/uacce.h" "$d/include/uapi/misc/uacce/"
			printf 'obj-m := uacce.o\nNOSTDINC_FLAGS += -I$(src)/include\nccflags-y := -DCONFIG_UACCE_MODULE=1\n' >"$d/Kbuild"
			if make -s -C "$kb" M="$d" modules >"$work/b.log" 2>&1; then
				echo "ok 6.1 uacce.ko builds against $kb"
			else
				echo "FAIL 6.1 build against $kb"; tail -20 "$work/b.log"; rc=1
			fi
		else
			echo "skip 6.1 compile (no linux-headers-6.1.*-amd64 installed)"
		fi
	fi
	rm -rf "$work"
	trap - EXIT
done
exit $rc
