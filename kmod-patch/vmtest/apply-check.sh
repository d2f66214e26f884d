#!/bin/bash
# Apply check: each series must apply in order with patch -p1 and no fuzz:
#   ../patches       (mainline)  on Debian unstable's linux-source-7.2
#   ../patches-6.12  (backport)  on Debian 12's linux-source-6.12
#   ../patches-6.1   (backport)  on Debian 12's linux-source-6.1
# The patched 7.2 uacce is then built in the 7.2 tree with
# make W=1 M=drivers/misc/uacce (any compiler warning fails); if linux-headers
# for a 6.1 kernel are installed, the patched 6.1 uacce.c is also compiled.
# Uses the trees run.sh extracted into $UACCE_VMTEST_CACHE (extracts the
# needed files itself otherwise; the 7.2 source package is downloaded from
# Debian unstable through a temporary apt list, without touching the
# system's apt configuration). UACCE_VMTEST_NO_72=1 skips 7.2.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
KMOD=$(cd "$HERE/.." && pwd)
CACHE=${UACCE_VMTEST_CACHE:-/var/tmp/uacce-vmtest}
rc=0

# Debian unstable's linux-source-7.2, full tree, configured for a module build
fetch_72() {
	local d=$CACHE/src-7.2 t deb
	[ -f "$d/.prepared" ] && return 0
	t=$(mktemp -d)
	mkdir -p "$t/lists/partial" "$t/cache/archives/partial" "$CACHE/debs-7.2"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main" >"$t/sources.list"
	local o=(-o "Dir::Etc::sourcelist=$t/sources.list" -o Dir::Etc::sourceparts=-
		-o "Dir::State::Lists=$t/lists" -o "Dir::Cache=$t/cache" -o APT::Sandbox::User=root)
	deb=$(ls "$CACHE"/debs-7.2/linux-source-7.2_*.deb 2>/dev/null | head -1 || true)
	if [ -z "$deb" ]; then
		apt-get "${o[@]}" update -qq
		(cd "$CACHE/debs-7.2" && apt-get "${o[@]}" download -qq linux-source-7.2)
		deb=$(ls "$CACHE"/debs-7.2/linux-source-7.2_*.deb | head -1)
	fi
	rm -rf "$t" "$d" && mkdir -p "$d"
	dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/src/linux-source-7.2.tar.xz |
		tar -xJ -C "$d"
	(cd "$d/linux-source-7.2" && make -s x86_64_defconfig &&
		scripts/config -e MODULES -m UACCE -e IOMMU_SVA && make -s olddefconfig &&
		make -s -j2 modules_prepare) >"$d/prepare.log" 2>&1
	touch "$d/.prepared"
}

for v in 7.2 6.12 6.1; do
	case $v in
	7.2)
		[ "${UACCE_VMTEST_NO_72:-0}" = 1 ] && { echo "skip 7.2 (UACCE_VMTEST_NO_72=1)"; continue; }
		fetch_72 || { echo "FAIL 7.2 fetch linux-source-7.2"; rc=1; continue; }
		series=("$KMOD"/patches/0[0-9][0-9][1-9]-*.patch) ;;
	*)
		series=("$KMOD"/patches-$v/*.patch)
		tarball=/usr/src/linux-source-$v.tar.xz
		[ -f "$tarball" ] || { echo "missing $tarball (apt-get install linux-source-$v)"; exit 1; } ;;
	esac
	src=$CACHE/src-$v/linux-source-$v
	if [ "$v" != 7.2 ]; then
		for f in drivers/misc/uacce/uacce.c Documentation/userspace-api/ioctl/ioctl-number.rst; do
			[ -f "$src/$f" ] || tar -xJf "$tarball" -C "$CACHE/src-$v" --wildcards \
				"linux-source-$v/drivers/misc/uacce/*" \
				"linux-source-$v/drivers/crypto/hisilicon/*" \
				"linux-source-$v/Documentation/misc-devices/*" \
				"linux-source-$v/Documentation/userspace-api/ioctl/ioctl-number.rst" \
				"linux-source-$v/include/linux/uacce.h" \
				"linux-source-$v/include/uapi/misc/uacce/*"
		done
	fi
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	# Every file the series touches, from the pristine tree
	files=$(cat "${series[@]}" | sed -n 's|^+++ b/||p' | sort -u)
	(cd "$src" && cp --parents $files "$work/")
	for p in "${series[@]}"; do
		if out=$(cd "$work" && patch -p1 -F0 --no-backup-if-mismatch <"$p" 2>&1) &&
			! grep -qi fuzz <<<"$out"; then
			echo "ok $v $(basename "$p")"
		else
			echo "FAIL $v $(basename "$p"):"; echo "$out"; rc=1
		fi
	done
	if [ "$v" = 7.2 ]; then
		# make W=1 M=drivers/misc/uacce in the 7.2 tree with the patched
		# files in place (the originals are put back afterwards). There
		# is no vmlinux, so modpost only warns about symbols it cannot
		# resolve: a compile check, not a module for any kernel.
		(
			exec 9>"$CACHE/src-7.2/.lock" && flock 9
			cd "$src"
			for f in $files; do cp "$f" "$work/$f.orig"; cp "$work/$f" "$f"; done
			make -s W=1 KBUILD_MODPOST_WARN=1 M=drivers/misc/uacce clean >/dev/null 2>&1 || true
			brc=0
			make W=1 KBUILD_MODPOST_WARN=1 M=drivers/misc/uacce modules >"$work/b72.log" 2>&1 || brc=$?
			for f in $files; do cp "$work/$f.orig" "$f"; done
			if [ "$brc" = 0 ] && [ -f drivers/misc/uacce/uacce.ko ] &&
				! grep -E '(warning|error):' "$work/b72.log" | grep -v 'modpost:' | grep -q .; then
				echo "ok 7.2 make-W=1-M=drivers/misc/uacce warning-free"
			else
				echo "FAIL 7.2 make W=1 M=drivers/misc/uacce:"
				grep -E '(warning|error):' "$work/b72.log" | grep -v 'modpost:' | head -20
				exit 1
			fi
		) || rc=1
	fi
	if [ "$v" = 6.1 ]; then
		kb=$(ls -d /lib/modules/6.1.*/build 2>/dev/null | head -1 || true)
		if [ -n "$kb" ]; then
			d=$work/build && mkdir -p "$d/include/linux" "$d/include/uapi/misc/uacce"
			cp "$work/drivers/misc/uacce/uacce.c" "$d/"
			cp "$work/include/linux/uacce.h" "$d/include/linux/"
			cp "$src/include/uapi/misc/uacce/"*.h "$d/include/uapi/misc/uacce/"
			cp "$work/include/uapi/misc/uacce/uacce.h" "$d/include/uapi/misc/uacce/"
			printf 'obj-m := uacce.o\nNOSTDINC_FLAGS += -I$(src)/include\nccflags-y := -DCONFIG_UACCE_MODULE=1\n' >"$d/Kbuild"
			if make -s -C "$kb" M="$d" W=1 modules >"$work/b.log" 2>&1 &&
				! grep -q 'warning:' "$work/b.log"; then
				echo "ok 6.1 uacce.ko builds W=1 against $kb"
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
