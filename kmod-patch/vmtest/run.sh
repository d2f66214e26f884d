#!/bin/bash
# VM harness for the uacce eventfd series and the uacce_soft module.
#
# Builds the patched and the unpatched uacce.ko, uacce_soft.ko and the Rust
# guest tests against Debian's 6.12 kernel, boots that kernel under QEMU (TCG)
# twice (patched, unpatched) and runs the tests. Also: the patch apply check
# on Debian's 6.12 and 6.1 trees (apply-check.sh), checkpatch --strict on every
# patch and on uacce_soft.c, and a compile check of the patched hisilicon/qm.c.
#
# Prints one line per test and, last, "N passed, N failed". Exits non-zero on
# any failure, on BUG:/Oops/WARNING: in a guest kernel log, or on a time-out.
#
# Environment: UACCE_VMTEST_CACHE (default /var/tmp/uacce-vmtest) holds the
# downloads, the extracted source and image and the build products, so that
# reruns are fast. UACCE_VMTEST_NO_APT=1 skips apt-get (everything installed).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
KMOD=$(cd "$HERE/.." && pwd)
CACHE=${UACCE_VMTEST_CACHE:-/var/tmp/uacce-vmtest}
JOBS=${JOBS:-2}
T0=$(date +%s)
mkdir -p "$CACHE"

log() { printf '[vmtest %4ds] %s\n' "$(($(date +%s) - T0))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

PASS=0
FAIL=0
result() { # result ok|fail NAME [why]
	if [ "$1" = ok ]; then
		PASS=$((PASS + 1)); echo "ok $2"
	else
		FAIL=$((FAIL + 1)); echo "FAIL $2: ${3:-}"
	fi
}

# ------------------------------------------------------------ packages --
# linux-headers-amd64 is Debian 12's 6.1 kernel: apply-check.sh builds the 6.1 uacce.c against it
PKGS="linux-source-6.12 linux-headers-6.12-amd64 linux-source-6.1 linux-headers-amd64 qemu-system-x86
busybox-static cpio kmod xz-utils build-essential bc flex bison libelf-dev python3-ply
patch perl"
if [ "${UACCE_VMTEST_NO_APT:-0}" != 1 ]; then
	missing=""
	for p in $PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		log "apt-get install$missing"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $missing >/dev/null
	fi
fi
command -v cargo >/dev/null || die "cargo not found (a Rust toolchain is needed)"

# The headers meta package names the exact kernel; the image must match it.
HDR=$(dpkg-query -W -f='${Depends}' linux-headers-6.12-amd64 |
	sed -n 's/^\(linux-headers-[^ ,]*\) (= \([^)]*\)).*/\1 \2/p')
KVER=${HDR%% *}; KVER=${KVER#linux-headers-}
KPKGVER=${HDR#* }
[ -n "$KVER" ] && [ -d "/lib/modules/$KVER/build" ] ||
	die "linux-headers for $KVER not installed"
log "kernel $KVER (package version $KPKGVER)"

# --------------------------------------------------- kernel image (cached) --
IMG=$CACHE/image-$KVER
if [ ! -f "$IMG/.done" ]; then
	log "downloading linux-image-$KVER=$KPKGVER"
	rm -rf "$IMG" "$CACHE/debs" && mkdir -p "$IMG" "$CACHE/debs"
	(cd "$CACHE/debs" && { apt-get download -qq -o APT::Sandbox::User=root \
		"linux-image-$KVER=$KPKGVER" ||
		apt-get download -qq -o APT::Sandbox::User=root \
			"linux-image-$KVER-unsigned=$KPKGVER"; })
	dpkg -x "$CACHE"/debs/linux-image-"$KVER"_*.deb "$IMG"
	touch "$IMG/.done"
fi
VMLINUZ=$IMG/boot/vmlinuz-$KVER
[ -f "$VMLINUZ" ] || die "no $VMLINUZ"

# ---------------------------------------- source trees (partial, cached) --
# Only what the harness needs: uacce, hisilicon, docs, checkpatch and the
# files checkpatch wants to see to recognise a kernel tree.
extract_src() { # extract_src 6.12 full|min
	local v=$1 ver dir
	ver=$(dpkg-query -W -f='${Version}' "linux-source-$v")
	dir=$CACHE/src-$v
	if [ ! -f "$dir/.done-$ver-$2" ]; then
		log "extracting linux-source-$v ($ver, $2)"
		rm -rf "$dir" && mkdir -p "$dir"
		local extra=()
		[ "$2" = full ] && extra=("linux-source-$v/include/*" "linux-source-$v/scripts/*"
			"linux-source-$v/COPYING" "linux-source-$v/CREDITS" "linux-source-$v/Kbuild"
			"linux-source-$v/MAINTAINERS" "linux-source-$v/Makefile" "linux-source-$v/README")
		tar -xJf "/usr/src/linux-source-$v.tar.xz" -C "$dir" --wildcards \
			"linux-source-$v/drivers/misc/uacce/*" \
			"linux-source-$v/drivers/crypto/hisilicon/*" \
			"linux-source-$v/Documentation/misc-devices/*" \
			"linux-source-$v/Documentation/userspace-api/ioctl/ioctl-number.rst" \
			"linux-source-$v/include/linux/uacce.h" \
			"linux-source-$v/include/uapi/misc/uacce/*" "${extra[@]}"
		# checkpatch recognises a kernel tree by these
		[ "$2" = full ] && mkdir -p "$dir/linux-source-$v"/{arch,fs,init,ipc,kernel,lib}
		touch "$dir/.done-$ver-$2"
	fi
}
extract_src 6.12 full   # checkpatch runs from this tree
extract_src 6.1 min     # only for the apply check
SRC=$CACHE/src-6.12/linux-source-6.12

# --------------------------------------------------------- apply check --
UACCE_VMTEST_CACHE=$CACHE "$HERE/apply-check.sh" >"$CACHE/apply.log" 2>&1 || true
while read -r st v what; do
	case "$st" in
	ok) result ok "apply-$v/${what:0:40}" ;;
	FAIL) result fail "apply-$v/${what:0:40}" "see $CACHE/apply.log" ;;
	skip) echo "# $st $v $what" ;;
	esac
done <"$CACHE/apply.log"
grep -q '^ok 7.2' "$CACHE/apply.log" && grep -q '^ok 6.12' "$CACHE/apply.log" &&
	grep -q '^ok 6.1 ' "$CACHE/apply.log" ||
	{ result fail apply-check "see $CACHE/apply.log"; cat "$CACHE/apply.log" >&2; }

# ---------------------------------------------------------- checkpatch --
# (UNKNOWN_COMMIT_ID is ignored: the source tree is not a git repository,
# so checkpatch cannot look up the commit a Fixes: tag names)
for p in "$KMOD"/patches/0[0-9][0-9][1-9]-*.patch "$KMOD"/patches-6.12/*.patch "$KMOD"/patches-6.1/*.patch; do
	out=$(cd "$SRC" && perl scripts/checkpatch.pl --strict -q --ignore UNKNOWN_COMMIT_ID "$p" 2>&1 || true)
	series=$(basename "$(dirname "$p")")
	case $series in patches) sv=7.2 ;; *) sv=${series#patches-} ;; esac
	name=checkpatch-$sv/$(basename "$p" | cut -c1-36)
	if [ -z "$out" ]; then result ok "$name"
	else result fail "$name" "$(echo "$out" | head -5 | tr '\n' ' ')"; fi
done
out=$(cd "$SRC" && perl scripts/checkpatch.pl --strict -q -f \
	"$KMOD/uacce_soft/uacce_soft.c" 2>&1 || true)
if [ -z "$out" ]; then result ok checkpatch-uacce_soft.c
else result fail checkpatch-uacce_soft.c "$(echo "$out" | head -5 | tr '\n' ' ')"; fi

# -------------------------------------------------------------- builds --
B=$CACHE/build
rm -rf "$B" && mkdir -p "$B"
KB=/lib/modules/$KVER/build

# uacce sources: the files of the 6.12 tree the series touches, copied and,
# for the patched flavour, patched with patch -p1 -F0 (no fuzz).
mk_tree() { # mk_tree DIR patched|unpatched
	local d=$1
	mkdir -p "$d/tree"
	(cd "$SRC" && cp --parents drivers/misc/uacce/uacce.c include/linux/uacce.h \
		include/uapi/misc/uacce/uacce.h include/uapi/misc/uacce/hisi_qm.h \
		drivers/crypto/hisilicon/qm.c drivers/crypto/hisilicon/qm_common.h \
		Documentation/misc-devices/uacce.rst \
		Documentation/userspace-api/ioctl/ioctl-number.rst "$d/tree/")
	if [ "$2" = patched ]; then
		for p in "$KMOD"/patches-6.12/*.patch; do
			(cd "$d/tree" && patch -s -p1 -F0 --no-backup-if-mismatch <"$p") ||
				return 1
		done
	fi
}

# Out-of-tree uacce.ko (Kbuild as in kernel-vm-notes.md, with NOSTDINC_FLAGS
# so that our uacce headers win over the headers package's) and uacce_soft.ko
build_mods() { # build_mods DIR
	local d=$1
	mkdir -p "$d/uacce/include/linux" "$d/uacce/include/uapi/misc/uacce" "$d/soft"
	cp "$d/tree/drivers/misc/uacce/uacce.c" "$d/uacce/"
	cp "$d/tree/include/linux/uacce.h" "$d/uacce/include/linux/"
	cp "$d/tree/include/uapi/misc/uacce/"*.h "$d/uacce/include/uapi/misc/uacce/"
	cat >"$d/uacce/Kbuild" <<-'EOF'
	obj-m := uacce.o
	NOSTDINC_FLAGS += -I$(src)/include
	ccflags-y := -DCONFIG_UACCE_MODULE=1
	EOF
	make -s -C "$KB" M="$d/uacce" -j"$JOBS" modules >"$d/uacce.log" 2>&1 ||
		{ cat "$d/uacce.log" >&2; return 1; }
	cp "$KMOD/uacce_soft/uacce_soft.c" "$KMOD/uacce_soft/uacce_soft.h" \
		"$KMOD/uacce_soft/Kbuild" "$d/soft/"
	make -s -C "$KB" M="$d/soft" -j"$JOBS" UACCE_INC="$d/uacce/include" \
		KBUILD_EXTRA_SYMBOLS="$d/uacce/Module.symvers" modules >"$d/soft.log" 2>&1 ||
		{ cat "$d/soft.log" >&2; return 1; }
}

log "building uacce.ko (patched, unpatched) and uacce_soft.ko"
for f in patched unpatched; do
	if mk_tree "$B/$f" "$f" && build_mods "$B/$f"; then
		result ok "build-$f-uacce-and-uacce_soft"
	else
		result fail "build-$f-uacce-and-uacce_soft" "see $B/$f/*.log"
	fi
done

# SM3 and SM4 for the soft SEC device: Debian's 6.12 config leaves them out
# (CONFIG_CRYPTO_SM3_GENERIC, CONFIG_CRYPTO_SM4_GENERIC not set), so the
# generic implementations of the same source package are built out of tree
# against its headers and loaded before uacce_soft (the library modules
# sm3.ko and sm4.ko first). Their sources are extracted once into the cache.
SMSRC=$CACHE/src-6.12-sm
smver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
if [ ! -f "$SMSRC/.done-$smver" ]; then
	log "extracting the SM3/SM4 sources of linux-source-6.12"
	rm -rf "$SMSRC" && mkdir -p "$SMSRC"
	tar -xJf /usr/src/linux-source-6.12.tar.xz -C "$SMSRC" --strip-components=2 \
		linux-source-6.12/crypto/sm3.c linux-source-6.12/crypto/sm3_generic.c \
		linux-source-6.12/crypto/sm4.c linux-source-6.12/crypto/sm4_generic.c &&
		touch "$SMSRC/.done-$smver"
fi
SM_MODS="sm3.ko sm3_generic.ko sm4.ko sm4_generic.ko"
mkdir -p "$B/sm"
# (a failed extraction leaves no sources: the build below fails and says so)
cp "$SMSRC"/sm*.c "$B/sm/" 2>/dev/null || true
echo 'obj-m := sm3.o sm3_generic.o sm4.o sm4_generic.o' >"$B/sm/Kbuild"
if make -s -C "$KB" M="$B/sm" -j"$JOBS" modules >"$B/sm/log" 2>&1; then
	result ok build-sm3-sm4-modules
else
	result fail build-sm3-sm4-modules "$(tail -5 "$B/sm/log" | tr '\n' ' ')"
fi

# qm.c compile check (object only, out of tree; it is arm64 hardware)
Q=$B/qm && mkdir -p "$Q"
cp "$B/patched/tree/drivers/crypto/hisilicon/qm.c" \
	"$B/patched/tree/drivers/crypto/hisilicon/qm_common.h" "$Q/"
cat >"$Q/Kbuild" <<'EOF'
obj-m := hisi_qm_check.o
hisi_qm_check-y := qm.o
NOSTDINC_FLAGS += -I$(UACCE_INC)
ccflags-y := -DCONFIG_UACCE=1
EOF
log "compile check: make -C $KB M=$Q UACCE_INC=$B/patched/uacce/include qm.o"
if make -s -C "$KB" M="$Q" UACCE_INC="$B/patched/uacce/include" qm.o >"$Q/log" 2>&1 &&
	nm "$Q/qm.o" | grep -q ' U uacce_wake_up$'; then
	result ok compile-hisilicon-qm.o
else
	result fail compile-hisilicon-qm.o "$(tail -5 "$Q/log" | tr '\n' ' ')"
fi

# ------------------------------------------------------ rust guest tests --
# Cargo judges a path crate fresh by the mtimes of the files its last build
# read, by absolute path: a target directory in the cache shared by two
# checkouts (a clean clone beside a work tree) would take the other checkout's
# build of our own crates as fresh. Rebuild them when the checkout changes.
own_crates_for_checkout() { # target-dir manifest-dir package...
	local target=$1 dir=$2 stamp=$1/.checkout
	shift 2
	[ "$(cat "$stamp" 2>/dev/null)" = "$KMOD" ] && return 0
	local p args=()
	for p in "$@"; do args+=(-p "$p"); done
	(cd "$dir" && CARGO_TARGET_DIR="$target" cargo clean -q --release \
		--target x86_64-unknown-linux-gnu "${args[@]}") >/dev/null 2>&1 || true
	mkdir -p "$target" && echo "$KMOD" >"$stamp"
}
OWN_CRATES="uacce-sys uacce-soft uacce-emu uacce-async uacce-testkit"

log "building the Rust guest tests (static)"
GUEST_TARGET=$CACHE/guest-target
# shellcheck disable=SC2086
own_crates_for_checkout "$GUEST_TARGET" "$HERE/guest" uacce-vmtest-guest $OWN_CRATES
if (cd "$HERE/guest" && RUSTFLAGS='-C target-feature=+crt-static' \
	CARGO_TARGET_DIR="$GUEST_TARGET" cargo build -q --release \
	--target x86_64-unknown-linux-gnu) >"$B/guest.log" 2>&1; then
	result ok build-guest-tests
else
	result fail build-guest-tests "see $B/guest.log"
	cat "$B/guest.log" >&2
fi
GUEST_BIN=$GUEST_TARGET/x86_64-unknown-linux-gnu/release/uacce-vmtest-guest

# The polling-vs-interrupt report, for a quick run on the soft devices
log "building examples/polling-vs-interrupt (static)"
PVI_TARGET=$CACHE/pvi-target
# shellcheck disable=SC2086
own_crates_for_checkout "$PVI_TARGET" "$KMOD/.." uacce $OWN_CRATES
if (cd "$KMOD/.." && RUSTFLAGS='-C target-feature=+crt-static' \
	CARGO_TARGET_DIR="$PVI_TARGET" cargo build -q --release \
	--example polling-vs-interrupt --target x86_64-unknown-linux-gnu) >"$B/pvi-build.log" 2>&1; then
	result ok build-polling-vs-interrupt
else
	result fail build-polling-vs-interrupt "see $B/pvi-build.log"
	cat "$B/pvi-build.log" >&2
fi
PVI_BIN=$PVI_TARGET/x86_64-unknown-linux-gnu/release/examples/polling-vs-interrupt

# ------------------------------------------------------------ initramfs --
# Kernel modules uacce_soft needs from the image (crypto templates it asks
# for by name are loaded explicitly, as the guest has no modprobe set up).
MODROOT=$CACHE/modroot-$KVER
if [ ! -f "$MODROOT/.done" ]; then
	rm -rf "$MODROOT" && mkdir -p "$MODROOT/lib/modules"
	ln -s "$IMG/lib/modules/$KVER" "$MODROOT/lib/modules/$KVER"
	depmod -b "$MODROOT" "$KVER"
	touch "$MODROOT/.done"
fi
NEEDED_MODS="xts gcm ghash-generic crypto_null aead ctr cbc ecb sha256 sha512 hmac md5 sha1 ccm cmac
libcurve25519-generic"
mk_initramfs() { # mk_initramfs patched|unpatched OUT
	local flavour=$1 out=$2 r
	r=$B/initramfs-$flavour
	rm -rf "$r" && mkdir -p "$r"/{bin,sbin,proc,sys,dev,tmp,mods}
	cp /bin/busybox "$r/bin/busybox"
	for a in sh mount umount cat echo sleep insmod rmmod lsmod dmesg ls grep sed mkdir poweroff; do
		ln -s busybox "$r/bin/$a"
	done
	: >"$r/mods/order"
	for m in $NEEDED_MODS; do
		modprobe -d "$MODROOT" -S "$KVER" --show-depends "$m" 2>/dev/null |
			sed -n 's/^insmod \([^ ]*\).*/\1/p'
	done | awk '!seen[$0]++' | while read -r ko; do
		base=$(basename "$ko"); base=${base%.xz}
		case "$ko" in
		*.xz) xz -dc "$ko" >"$r/mods/$base" ;;
		*) cp "$ko" "$r/mods/$base" ;;
		esac
		echo "$base" >>"$r/mods/order"
	done
	for m in $SM_MODS; do
		[ -f "$B/sm/$m" ] && cp "$B/sm/$m" "$r/mods/" && echo "$m" >>"$r/mods/order"
	done
	cp "$B/$flavour/uacce/uacce.ko" "$B/$flavour/soft/uacce_soft.ko" "$r/mods/"
	cp "$GUEST_BIN" "$r/bin/guest"
	if [ "$flavour" = patched ] && [ -x "$PVI_BIN" ]; then
		cp "$PVI_BIN" "$r/bin/polling-vs-interrupt"
	fi
	cp "$HERE/init.sh" "$r/init"
	chmod +x "$r/init"
	(cd "$r" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
}

run_vm() { # run_vm patched|unpatched
	local flavour=$1 rd=$B/initrd-$1.gz logf=$B/console-$1.log rc=0
	mk_initramfs "$flavour" "$rd"
	log "booting $KVER under QEMU/TCG ($flavour uacce)"
	local t=$(date +%s) boot
	# A kernel that dies before it runs /init (the first thing /init prints is
	# "=== INIT") never ran anything of this project: no module was loaded.
	# Under TCG the boot itself occasionally dies (an int3 Oops in code being
	# live-patched at boot, seen once here); such a boot is retried, at most
	# twice, and said so. Anything after "=== INIT" counts as it is.
	for boot in 1 2 3; do
		rc=0
		timeout 600 qemu-system-x86_64 -accel tcg -smp 2 -m 1G -nographic -no-reboot \
			-nic none -kernel "$VMLINUZ" -initrd "$rd" \
			-append "console=ttyS0 panic=-1 quiet loglevel=4 uacce_mode=$flavour" \
			</dev/null >"$logf" 2>&1 || rc=$?
		tr -d '\r' <"$logf" >"$logf.txt"
		if grep -q '=== INIT' "$logf.txt" || [ "$boot" = 3 ]; then
			break
		fi
		cp "$logf.txt" "$B/console-$flavour-died-before-init-$boot.txt"
		echo "# $flavour: the guest kernel died before /init (boot $boot, log kept in" \
			"$B/console-$flavour-died-before-init-$boot.txt); booting again"
	done
	log "$flavour VM done in $(($(date +%s) - t)) s (qemu rc=$rc, boot $boot)"
	if [ "$rc" = 124 ]; then
		result fail "vm-$flavour" "time-out after 600 s"
	fi
	# guest test lines, prefixed by the flavour
	# (the console may prefix the first line with terminal escapes)
	awk '/=== TESTS BEGIN/ {on = 1; next} /=== TESTS END/ {on = 0} on' "$logf.txt" \
		>"$B/guest-$flavour.txt"
	grep '^# ' "$B/guest-$flavour.txt" | sed "s/^# /# $flavour: /" || true
	grep -E '^(ok|FAIL) ' "$B/guest-$flavour.txt" >"$B/tests-$flavour.txt" || true
	while read -r st name rest; do
		name=${name%:}
		if [ "$st" = ok ]; then result ok "$flavour/$name"
		else result fail "$flavour/$name" "$rest"; fi
	done <"$B/tests-$flavour.txt"
	local grc
	grc=$(sed -n 's/^=== TESTS END rc=\([0-9]*\).*/\1/p' "$logf.txt")
	if [ -z "$grc" ]; then
		result fail "vm-$flavour-complete" "guest did not finish (see $logf.txt)"
		tail -30 "$logf.txt" >&2
	elif [ "$grc" != 0 ]; then
		result fail "vm-$flavour-guest-exit" "guest test binary exited with $grc"
	fi
	if [ "$flavour" = patched ]; then
		# The quick polling-vs-interrupt run on the soft devices: its table, and a result line
		awk '/=== PVI BEGIN/ {on = 1; next} /=== PVI END/ {on = 0} on' "$logf.txt" >"$B/pvi.txt"
		local prc
		prc=$(sed -n 's/^=== PVI END rc=\([0-9]*\).*/\1/p' "$logf.txt")
		sed 's/^/# pvi: /' "$B/pvi.txt"
		if [ "$prc" = 0 ] && grep -q 'eventfd' "$B/pvi.txt"; then
			result ok vm-patched-polling-vs-interrupt
		else
			result fail vm-patched-polling-vs-interrupt "rc=${prc:-none} (see $B/pvi.txt)"
		fi
	fi
	if grep -E 'BUG:|Oops|WARNING:|Call Trace|Kernel panic|blocked for more than|general protection' \
		"$logf.txt" >"$B/kbad-$flavour.txt"; then
		result fail "vm-$flavour-kernel-log" "$(head -3 "$B/kbad-$flavour.txt" | tr '\n' ' ')"
	else
		result ok "vm-$flavour-kernel-log-clean"
	fi
}

if [ -x "$GUEST_BIN" ] && [ -f "$B/patched/soft/uacce_soft.ko" ]; then
	run_vm patched
	run_vm unpatched
else
	result fail vm "nothing to boot (build failed)"
fi

log "total $(($(date +%s) - T0)) s"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
