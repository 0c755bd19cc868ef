#!/usr/bin/env bash
# scripts/setup-containers.sh - the container engine, local registry and base
# images that matrix's container tests use (Debian/Ubuntu). No registry on
# the internet is needed: every base image is made here from Debian packages.
# Safe to run any number of times; when everything is there it only checks.
#
#   engine     the docker daemon must answer. As root: installs docker.io and
#              starts dockerd (systemd, else in the background with its log
#              in $MATRIX_TOOLS/dockerd.log).
#   registry   a registry (Debian's docker-registry) answering
#              http://$MATRIX_TEST_REGISTRY/v2/; started in the background
#              when it is on this machine and nothing answers there yet.
#   images     matrix-base/debian:bookworm    debootstrap --variant=minbase
#              matrix-base/busybox:amd64      only Debian's busybox-static
#              matrix-base/busybox:arm64      (the arm64 build of it)
#              Their root filesystems are cached as tarballs, so a new
#              engine gets them back without downloading anything.
#   emulation  qemu-user-static's qemu-aarch64 binfmt handler with the F
#              flag, proven by running `uname -m` in the arm64 image.
#
# Exits 0 when all of it works. Otherwise it says what is missing and the
# commands that fix it, and exits 1; under CI=true it stops at the first
# failure. Steps that need root (apt-get, dockerd, debootstrap, binfmt) are
# only explained when not root.
#
# Environment:
#   MATRIX_CONTAINERS     0 skips all of this (a machine without an engine)
#   MATRIX_TEST_REGISTRY  host:port of the test registry (default
#                         127.0.0.1:5000); one is started only on a loopback
#                         address
#   MATRIX_TOOLS          cache directory (default $HOME/.cache/matrix-tools)
#   MATRIX_DEBIAN_MIRROR  Debian mirror (default http://deb.debian.org/debian)
set -euo pipefail

LOG_PREFIX=containers
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly SUITE=bookworm
readonly DEBIAN_IMAGE=matrix-base/debian:$SUITE
readonly BUSYBOX_REPO=matrix-base/busybox
readonly BUSYBOX_ARCHES=(amd64 arm64)
readonly REGISTRY=${MATRIX_TEST_REGISTRY:-127.0.0.1:5000}
readonly MIRROR=${MATRIX_DEBIAN_MIRROR:-http://deb.debian.org/debian}
readonly KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
readonly IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Loaded images say they were made at the epoch, so a rootfs tarball always
# gives the same image ID (the busybox ones are byte-reproducible).
readonly EPOCH_ISO=1970-01-01T00:00:00Z

TOOLS=${MATRIX_TOOLS:-${HOME:+$HOME/.cache/matrix-tools}}
if [[ -n $TOOLS && $TOOLS != /* ]]; then TOOLS=$PWD/$TOOLS; fi
SCRIPT="bash $(dirname "${BASH_SOURCE[0]}")/setup-containers.sh"

# ---------------------------------------------------------------- outcome

# fail MESSAGE [FIX]: a step could not be done. Under CI=true that ends the
# script at once; otherwise the remaining independent steps still run.
fail() {
	problem "$@"
	if is_ci; then finish; fi
}

finish() {
	local problems=${#PROBLEMS[@]}
	finish_problems "a CI machine must be able to run the container tests" || exit 1
	if [[ $problems -gt 0 ]]; then
		err "the container tests cannot run until this is fixed (MATRIX_CONTAINERS=0 skips this script)"
		exit 1
	fi
	exit 0
}

is_root() { [[ $EUID -eq 0 ]]; }

# ---------------------------------------------------------------- engine

# The daemon's version, or the client's error on one line. `docker version`
# rather than `docker info`: with Debian's 20.10 client, info's template
# hides a permission error behind a template error.
engine_version() {
	local out status=0
	out=$(timeout 20 docker version --format '{{.Server.Version}}' 2>&1) || status=$?
	out=${out//$'\n'/ }
	printf '%s\n' "${out#"${out%%[! ]*}"}"
	return "$status"
}

# Waits up to $2 seconds for the daemon to answer; gives up early when the
# dockerd with pid $1 (if any) died.
wait_for_engine() {
	local pid=$1 limit=$2 i
	for ((i = 0; i < limit; i++)); do
		if engine_version >/dev/null; then return 0; fi
		if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
		sleep 1
	done
	return 1
}

ensure_engine() {
	local out="no docker command on PATH"
	if command -v docker >/dev/null 2>&1 && out=$(engine_version); then
		say "engine: docker daemon $out answers (client $(docker version --format '{{.Client.Version}}' 2>/dev/null))"
		return 0
	fi
	if ! is_root; then
		local why=$out
		if ! command -v docker >/dev/null 2>&1; then
			fail "no container engine: docker is not installed" \
				"sudo apt-get install -y --no-install-recommends docker.io && sudo $SCRIPT"
		elif [[ $why == *"permission denied"* ]]; then
			fail "the docker daemon runs but $(id -un) may not use its socket ($why)" \
				"sudo usermod -aG docker $(id -un)   # then log in again"
		else
			fail "no container engine answers ($why)" \
				"sudo systemctl start docker   # or, without systemd: sudo $SCRIPT"
		fi
		return 1
	fi
	if [[ -n ${DOCKER_HOST:-} ]]; then
		fail "the engine at DOCKER_HOST=$DOCKER_HOST does not answer ($out); not starting a local one" \
			"unset DOCKER_HOST   # to use a local dockerd"
		return 1
	fi
	# A daemon that is still starting (or was just started by someone else)
	# gets time instead of a second dockerd that would fight over its pid file.
	if pgrep -x dockerd >/dev/null 2>&1; then
		say "engine: dockerd runs but does not answer yet; waiting up to 60 s"
		if wait_for_engine "" 60; then
			say "engine: docker daemon $(engine_version) answers"
			return 0
		fi
		fail "dockerd runs but does not answer: $(engine_version)"
		return 1
	fi
	if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
		say "engine: installing Debian's docker.io"
		if ! apt_install docker.io; then
			fail "apt-get install docker.io failed"
			return 1
		fi
		# Its postinst may have started the daemon already.
		if engine_version >/dev/null; then
			say "engine: docker daemon $(engine_version) answers"
			return 0
		fi
	fi
	if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
		say "engine: systemctl start docker"
		if systemctl start docker 2>&1 | sed -u "s/^/$LOG_PREFIX: systemctl: /" && wait_for_engine "" 60; then
			say "engine: docker daemon $(engine_version) answers"
			return 0
		fi
		warn "systemctl start docker did not give a working daemon; starting dockerd directly"
	fi
	local log=$TOOLS/dockerd.log
	mkdir -p "$TOOLS"
	say "engine: starting dockerd in the background (log: $log)"
	# setsid+nohup: the daemon outlives this script and its terminal.
	printf '\n--- %s: started by scripts/setup-containers.sh\n' "$(date -u +%FT%TZ)" >>"$log"
	setsid nohup dockerd >>"$log" 2>&1 </dev/null &
	local pid=$!
	if ! wait_for_engine "$pid" 60; then
		err "dockerd did not answer within 60 s; the end of $log:"
		tail -n 15 "$log" | sed "s/^/$LOG_PREFIX:   /" >&2
		fail "dockerd (pid $pid) did not start; see $log (a container without privileges cannot run it)"
		return 1
	fi
	say "engine: dockerd $(engine_version) started (pid $pid)"
}

# ---------------------------------------------------------------- registry

# registry_probe HOST:PORT: prints "registry" when a Docker registry answers
# GET /v2/ there, "other" when something else does, "none" when nothing
# does. Plain bash /dev/tcp, so no curl is needed. Runs in a child bash
# (see registry_state), which shellcheck cannot follow.
# shellcheck disable=SC2317
registry_probe() {
	local status line
	exec 3<>"/dev/tcp/${1%:*}/${1##*:}" || {
		echo none
		return
	}
	printf 'GET /v2/ HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" >&3
	IFS= read -r status <&3 || {
		echo other
		return
	}
	# 401 is a registry that wants a login: still a registry.
	case $status in
	"HTTP/1."?" 200"* | "HTTP/1."?" 401"*) ;;
	*)
		echo other
		return
		;;
	esac
	while IFS= read -r line <&3; do
		line=${line%$'\r'}
		[[ -n $line ]] || break
		if [[ ${line,,} == docker-distribution-api-version:* ]]; then
			echo registry
			return
		fi
	done
	echo other
}

# registry_state HOST:PORT: registry_probe with a time limit, as connecting
# to an address that drops packets can take minutes.
registry_state() {
	# shellcheck disable=SC2016 # $1 is the child's argument
	timeout 5 bash -c "$(declare -f registry_probe)"'; registry_probe "$1"' _ "$1" 2>/dev/null || echo none
}

write_registry_config() { # write_registry_config FILE ADDR STORAGE
	local want
	want=$(
		cat <<EOF
# Written by scripts/setup-containers.sh: the registry matrix's push tests use.
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $3
  delete:
    enabled: true
http:
  addr: $2
EOF
	)
	if [[ -f $1 && "$(cat "$1")" == "$want" ]]; then return 0; fi
	printf '%s\n' "$want" >"$1"
	say "registry: wrote $1"
}

ensure_registry() {
	local state host=${REGISTRY%:*} port=${REGISTRY##*:}
	if [[ $REGISTRY != *:* || ! $port =~ ^[0-9]+$ ]]; then
		fail "MATRIX_TEST_REGISTRY=$REGISTRY is not host:port" "export MATRIX_TEST_REGISTRY=127.0.0.1:5000"
		return 1
	fi
	say "registry: $REGISTRY (MATRIX_TEST_REGISTRY=${MATRIX_TEST_REGISTRY:-unset, the default})"
	state=$(registry_state "$REGISTRY")
	case $state in
	registry)
		say "registry: http://$REGISTRY/v2/ answers"
		return 0
		;;
	other)
		fail "something that is not a Docker registry answers on $REGISTRY" \
			"export MATRIX_TEST_REGISTRY=127.0.0.1:5001   # a free port"
		return 1
		;;
	esac
	case $host in
	127.* | localhost) ;;
	*)
		fail "no registry answers http://$REGISTRY/v2/ (not a loopback address, so none is started here)"
		return 1
		;;
	esac
	if ! command -v docker-registry >/dev/null 2>&1; then
		if ! is_root; then
			fail "no registry on $REGISTRY and Debian's docker-registry is not installed" \
				"sudo apt-get install -y --no-install-recommends docker-registry"
			return 1
		fi
		if ! apt_install docker-registry; then
			fail "apt-get install docker-registry failed"
			return 1
		fi
		# Its own service listens on 127.0.0.1:5000 where an init system runs it.
		if [[ "$(registry_state "$REGISTRY")" == registry ]]; then
			say "registry: the docker-registry service answers on $REGISTRY"
			return 0
		fi
	fi
	local config=$TOOLS/registry.yml storage=$TOOLS/registry log=$TOOLS/registry.log
	mkdir -p "$storage"
	write_registry_config "$config" "$REGISTRY" "$storage"
	say "registry: starting docker-registry serve $config in the background (log: $log)"
	printf '\n--- %s: started by scripts/setup-containers.sh\n' "$(date -u +%FT%TZ)" >>"$log"
	setsid nohup docker-registry serve "$config" >>"$log" 2>&1 </dev/null &
	local pid=$! i
	for ((i = 0; i < 60; i++)); do
		if [[ "$(registry_state "$REGISTRY")" == registry ]]; then
			say "registry: started (pid $pid), http://$REGISTRY/v2/ answers"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	tail -n 10 "$log" | sed "s/^/$LOG_PREFIX:   /" >&2
	fail "docker-registry (pid $pid) did not answer on $REGISTRY within 30 s; see $log"
	return 1
}

# ---------------------------------------------------------------- images

image_arch() { docker image inspect -f '{{.Architecture}}' "$1" 2>/dev/null; }

# load_rootfs TAR TAG ARCH CMD HISTORY: makes the root filesystem TAR the
# single layer of image TAG for linux/ARCH. `docker import --platform` would
# be simpler, but daemon 20.10 ignores the architecture in it (the image
# always gets the daemon's own), so a `docker save` archive is written by
# hand: docker load takes its config, architecture included, as it is.
load_rootfs() {
	local tar=$1 tag=$2 arch=$3 cmd=$4 history=$5 dir diff config_sha
	dir=$(mktemp -d "$TOOLS/images/load.XXXXXX")
	diff=$(sha256sum "$tar" | cut -d' ' -f1)
	mkdir "$dir/$diff"
	ln -s "$tar" "$dir/$diff/layer.tar"
	# The image config, keys in sorted order as docker writes them.
	{
		printf '{"architecture":"%s",' "$arch"
		printf '"config":{"Env":["PATH=%s"],"Cmd":["%s"]},' "$IMAGE_PATH" "$cmd"
		printf '"created":"%s",' "$EPOCH_ISO"
		printf '"history":[{"created":"%s","created_by":"%s"}],' "$EPOCH_ISO" "$history"
		printf '"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff"
	} >"$dir/config.json"
	config_sha=$(sha256sum "$dir/config.json" | cut -d' ' -f1)
	mv "$dir/config.json" "$dir/$config_sha.json"
	printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' \
		"$config_sha" "$tag" "$diff" >"$dir/manifest.json"
	local status=0
	# -h: the layer is a symlink to the cached tarball, not a copy of it.
	tar -C "$dir" -ch . | docker load 2>&1 | sed -u "s/^/$LOG_PREFIX: docker load: /" || status=$?
	rm -rf "$dir"
	[[ $status -eq 0 && "$(image_arch "$tag")" == "$arch" ]]
}

# The rootfs is made as root (debootstrap needs it) and cached; without root
# a cached tarball is still loaded.
ensure_debian_image() {
	local arch
	arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
	if [[ "$(image_arch "$DEBIAN_IMAGE")" == "$arch" ]]; then
		say "image $DEBIAN_IMAGE ($arch): present"
		return 0
	fi
	local tar=$TOOLS/images/debian-$SUITE-minbase-$arch.tar
	if [[ ! -f $tar ]]; then
		make_debian_rootfs "$arch" "$tar" || return 1
	else
		say "image $DEBIAN_IMAGE: using the cached root filesystem $tar"
	fi
	local start
	start=$(now)
	if ! load_rootfs "$tar" "$DEBIAN_IMAGE" "$arch" bash "debootstrap --variant=minbase $SUITE ($arch)"; then
		fail "docker load of $tar as $DEBIAN_IMAGE failed or gave the wrong architecture" \
			"rm -f $tar && $SCRIPT"
		return 1
	fi
	say "image $DEBIAN_IMAGE ($arch): loaded in $(elapsed "$start" "$(now)")"
}

make_debian_rootfs() { # make_debian_rootfs ARCH TAR
	local arch=$1 tar=$2
	if ! is_root; then
		fail "the base image $DEBIAN_IMAGE is missing and debootstrap needs root" "sudo $SCRIPT"
		return 1
	fi
	if ! command -v debootstrap >/dev/null 2>&1; then
		apt_install debootstrap || {
			fail "apt-get install debootstrap failed"
			return 1
		}
	fi
	mkdir -p "$TOOLS/images"
	local root start status=0
	root=$(mktemp -d "$TOOLS/images/rootfs.XXXXXX")
	start=$(now)
	say "image $DEBIAN_IMAGE: debootstrap --variant=minbase $SUITE from $MIRROR into $root"
	debootstrap --variant=minbase --arch="$arch" "$SUITE" "$root" "$MIRROR" 2>&1 |
		sed -u "s/^/$LOG_PREFIX: debootstrap: /" || status=$?
	if [[ $status -ne 0 ]]; then
		rm -rf "$root"
		fail "debootstrap $SUITE failed with status $status (see the debootstrap lines above)"
		return 1
	fi
	say "image $DEBIAN_IMAGE: debootstrap took $(elapsed "$start" "$(now)")"
	configure_debian_rootfs "$root"
	# ./dev, ./proc and ./sys stay as empty directories: the engine mounts them.
	tar --numeric-owner --sort=name -C "$root" --exclude='./dev/*' --exclude='./proc/*' \
		--exclude='./sys/*' -cf "$tar.tmp" . || status=$?
	rm -rf "$root"
	if [[ $status -ne 0 ]]; then
		rm -f "$tar.tmp"
		fail "could not tar the $SUITE root filesystem into $tar"
		return 1
	fi
	mv -f "$tar.tmp" "$tar"
	say "image $DEBIAN_IMAGE: root filesystem cached in $tar ($(du -h "$tar" | cut -f1))"
}

# What Docker's debian:*-slim images also do: all of the suite's updates,
# no services started by dpkg, no package cache or docs kept by later
# installs. The host's resolv.conf and hosts do not belong in an image.
configure_debian_rootfs() {
	local root=$1
	rm -f "$root/etc/apt/sources.list" "$root/etc/resolv.conf" "$root/etc/hosts" "$root/etc/hostname"
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/var/log/apt/*
	cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: $KEYRING

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $SUITE-security
Components: main
Signed-By: $KEYRING
EOF
	printf '#!/bin/sh\n# Written by scripts/setup-containers.sh: no services start in an image build.\nexit 101\n' \
		>"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
// Written by scripts/setup-containers.sh: keep no downloaded .deb in images.
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
EOF
	cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
# Written by scripts/setup-containers.sh: like debian:*-slim, no docs.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
}

# Debian's busybox-static .deb for ARCH, through apt with a private state
# directory: the system's dpkg architectures and package lists stay as they
# are, and no root is needed. Prints the path of the .deb.
fetch_busybox_deb() { # fetch_busybox_deb ARCH
	local arch=$1 apt_dir=$TOOLS/apt/$1 deb
	deb=$(find "$TOOLS/debs" -maxdepth 1 -name "busybox-static_*_$arch.deb" 2>/dev/null | sort | tail -n 1)
	if [[ -n $deb ]]; then
		printf '%s\n' "$deb"
		return 0
	fi
	mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/sources.list.d" "$TOOLS/debs"
	: >"$apt_dir/status"
	local signed=""
	[[ -r $KEYRING ]] && signed="[signed-by=$KEYRING] "
	printf 'deb %s%s %s main\n' "$signed" "$MIRROR" "$SUITE" >"$apt_dir/sources.list"
	local -a opts=(
		-o "Dir::State::Lists=$apt_dir/lists" -o "Dir::State::status=$apt_dir/status"
		-o "Dir::Cache=$apt_dir/cache" -o "Dir::Etc::SourceList=$apt_dir/sources.list"
		-o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
		-o "APT::Architecture=$arch" -o "APT::Architectures::=$arch"
		-o "APT::Sandbox::User=$(id -un)"
	)
	say "busybox-static ($arch): apt-get update of $SUITE/main $arch (private lists in $apt_dir)" >&2
	if ! apt_get "${opts[@]}" update >&2; then
		return 1
	fi
	(cd "$TOOLS/debs" && apt_get "${opts[@]}" download "busybox-static:$arch") >&2 || return 1
	# The lists are 25 MB and only needed again when the .deb is gone.
	rm -rf "$apt_dir"
	rmdir "$TOOLS/apt" 2>/dev/null || true
	deb=$(find "$TOOLS/debs" -maxdepth 1 -name "busybox-static_*_$arch.deb" | sort | tail -n 1)
	[[ -n $deb ]] && printf '%s\n' "$deb"
}

# The applet paths ("bin/sh", "usr/bin/wget", ...) of busybox binary $1: it
# says so itself when it can run here (natively or through binfmt); else
# the host's busybox from the same Debian source has the same list.
busybox_applets() {
	if "$1" --list-full 2>/dev/null; then return 0; fi
	if command -v busybox >/dev/null 2>&1 && busybox --list-full 2>/dev/null; then return 0; fi
	# Last resort: what a shell, the scripts and the Dockerfiles here use.
	printf '%s\n' bin/sh bin/ash bin/cat bin/cp bin/echo bin/ln bin/ls bin/mkdir bin/mv bin/rm \
		bin/sleep bin/uname bin/true bin/false bin/chmod bin/id usr/bin/env usr/bin/test 'usr/bin/['
}

ensure_busybox_image() { # ensure_busybox_image ARCH
	local arch=$1 tag=$BUSYBOX_REPO:$1
	if [[ "$(image_arch "$tag")" == "$arch" ]]; then
		say "image $tag ($arch): present"
		return 0
	fi
	mkdir -p "$TOOLS/images"
	local tar=$TOOLS/images/busybox-$arch.tar deb version start
	start=$(now)
	if ! deb=$(fetch_busybox_deb "$arch"); then
		fail "could not download Debian's busybox-static for $arch with apt-get (see the apt lines above)"
		return 1
	fi
	version=$(dpkg-deb -f "$deb" Version)
	if [[ ! -f $tar || $deb -nt $tar ]]; then
		say "image $tag: root filesystem from $(basename "$deb")"
		local root=$TOOLS/images/busybox-$arch extract
		rm -rf "$root" && mkdir -p "$root"
		extract=$(mktemp -d "$TOOLS/images/deb.XXXXXX")
		dpkg-deb -x "$deb" "$extract"
		mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,home,var,proc,sys,dev,tmp}
		install -m 755 "$extract/bin/busybox" "$root/bin/busybox"
		rm -rf "$extract"
		local applet
		while IFS= read -r applet; do
			[[ -n $applet && $applet != bin/busybox ]] || continue
			mkdir -p "$root/$(dirname "$applet")"
			ln -sf /bin/busybox "$root/$applet"
		done < <(busybox_applets "$root/bin/busybox")
		printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
		printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
		chmod 1777 "$root/tmp"
		chmod 700 "$root/root"
		# Same bytes on every machine: fixed owners, times and order.
		tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$root" -cf "$tar.tmp" .
		rm -rf "$root"
		mv -f "$tar.tmp" "$tar"
	fi
	if ! load_rootfs "$tar" "$tag" "$arch" sh "busybox-static $version ($arch) from Debian $SUITE"; then
		fail "docker load of $tar as $tag failed or gave the wrong architecture" "rm -f $tar && $SCRIPT"
		return 1
	fi
	say "image $tag ($arch): busybox-static $version, made in $(elapsed "$start" "$(now)")"
}

# ---------------------------------------------------------------- emulation

binfmt_flags() { sed -n 's/^flags: //p' /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null; }

# The F flag makes the kernel open qemu when the handler is registered, so
# it also runs binaries inside a container, where the path does not exist.
ensure_binfmt() {
	local dir=/proc/sys/fs/binfmt_misc flags
	flags=$(binfmt_flags)
	if [[ $flags == *F* ]] && grep -qx enabled "$dir/qemu-aarch64" 2>/dev/null; then
		say "emulation: binfmt handler qemu-aarch64 registered (flags $flags)"
		return 0
	fi
	if ! is_root; then
		if [[ -z $flags ]]; then
			fail "no binfmt handler for arm64 binaries (qemu-aarch64)" \
				"sudo apt-get install -y --no-install-recommends qemu-user-static binfmt-support && sudo update-binfmts --enable qemu-aarch64"
		else
			fail "the qemu-aarch64 binfmt handler is disabled or lacks the F flag (flags: $flags), so it cannot run inside containers" \
				"sudo $SCRIPT"
		fi
		return 1
	fi
	if ! command -v qemu-aarch64-static >/dev/null 2>&1 || ! command -v update-binfmts >/dev/null 2>&1; then
		apt_install qemu-user-static binfmt-support || {
			fail "apt-get install qemu-user-static binfmt-support failed"
			return 1
		}
	fi
	if [[ ! -e $dir/register ]] && ! mount -t binfmt_misc binfmt_misc "$dir" 2>/dev/null; then
		fail "cannot mount binfmt_misc on $dir (a container without privileges forbids it)"
		return 1
	fi
	if [[ -n $flags && $flags != *F* ]]; then
		say "emulation: re-registering qemu-aarch64 with the F flag"
		echo -1 >"$dir/qemu-aarch64" || true
	fi
	update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
	if [[ ! -e $dir/qemu-aarch64 && -r /usr/lib/binfmt.d/qemu-aarch64.conf ]]; then
		grep -v '^[#;]' /usr/lib/binfmt.d/qemu-aarch64.conf | head -n 1 >"$dir/register" 2>/dev/null || true
	fi
	flags=$(binfmt_flags)
	if [[ $flags != *F* ]]; then
		fail "could not register qemu-aarch64 with the F flag (flags now: ${flags:-none})"
		return 1
	fi
	say "emulation: registered qemu-aarch64 (flags $flags)"
}

# Runs the arm64 image's busybox: proves platform selection, the image's
# architecture and emulation inside containers at once.
prove_emulation() {
	local out
	if out=$(docker run --rm --platform linux/arm64 "$BUSYBOX_REPO:arm64" uname -m 2>&1) &&
		[[ ${out##*$'\n'} == aarch64 ]]; then
		say "emulation: docker run --platform linux/arm64 $BUSYBOX_REPO:arm64 uname -m -> aarch64"
		return 0
	fi
	fail "docker run --platform linux/arm64 $BUSYBOX_REPO:arm64 uname -m did not print aarch64: ${out//$'\n'/ }"
	return 1
}

# ---------------------------------------------------------------- report

summary() {
	say "summary:"
	say "  engine:    $(docker version --format 'client {{.Client.Version}}, daemon {{.Server.Version}} ({{.Server.Os}}/{{.Server.Arch}})' 2>/dev/null || echo none)${DOCKER_HOST:+ at $DOCKER_HOST}"
	say "  registry:  $REGISTRY ($(registry_state "$REGISTRY")); export MATRIX_TEST_REGISTRY=$REGISTRY"
	local tag line
	for tag in "$DEBIAN_IMAGE" "${BUSYBOX_ARCHES[@]/#/$BUSYBOX_REPO:}"; do
		line=$(docker image inspect -f '{{.Os}}/{{.Architecture}} {{.Size}} {{.Id}}' "$tag" 2>/dev/null) || line="missing"
		if [[ $line != missing ]]; then
			local -a f
			read -r -a f <<<"$line"
			line="${f[0]}, $(awk -v b="${f[1]}" 'BEGIN { printf "%.1f", b / 1000000 }') MB, ${f[2]:7:12}"
		fi
		say "  image:     $tag ($line)"
	done
	say "  emulation: qemu-aarch64 binfmt flags $(binfmt_flags)"
	say "  cache:     $TOOLS"
}

main() {
	if [[ "${MATRIX_CONTAINERS:-}" == 0 ]]; then
		say "skipped (MATRIX_CONTAINERS=0): the container tests will not run"
		exit 0
	fi
	if [[ -z $TOOLS ]]; then
		fail "neither MATRIX_TOOLS nor HOME is set; no place for the caches" "export MATRIX_TOOLS=/some/writable/dir"
		finish
	fi
	mkdir -p "$TOOLS"
	say "checking the container engine, registry and base images (CI=${CI:-unset}, user $(id -un), cache $TOOLS)"
	local start engine=0
	start=$(now)
	ensure_engine || engine=1
	ensure_registry || true
	ensure_binfmt || true
	if [[ $engine -eq 0 ]]; then
		# Also tagged by architecture, the way the examples' image matrix
		# names its local bases (matrix-base/<distro>:<debian arch>).
		if ensure_debian_image; then
			docker tag "$DEBIAN_IMAGE" "matrix-base/debian:$(dpkg --print-architecture 2>/dev/null || echo amd64)" || true
		fi
		local arch busybox=0
		for arch in "${BUSYBOX_ARCHES[@]}"; do
			ensure_busybox_image "$arch" || busybox=1
		done
		if [[ $busybox -eq 0 ]]; then prove_emulation || true; fi
		summary
	else
		say "images: not checked (no engine)"
	fi
	say "took $(elapsed "$start" "$(now)")"
	finish
}

main "$@"
