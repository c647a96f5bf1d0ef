#!/usr/bin/env bash
# Makes this machine ready to run and test portside. Idempotent, and quick when everything is
# already there: scripts/up.sh and scripts/test.sh run it every time.
#
#   1. .venv at the repo root (python3 >= 3.11), `pip install -e '.[test]'` whenever
#      pyproject.toml changed since the last install (stamp: .venv/.portside-pyproject.sha256).
#   2. A Docker Engine: when none answers and we are root, Debian's docker.io is installed and
#      dockerd started with --iptables=false --ip-masq=false --ip-forward=false (no container
#      traffic leaves the machine), its bridge and address pools on link-local subnets.
#   3. The local test images (no registry is reachable, so they are built here):
#        portside-test/busybox:latest       Debian's busybox-static in an empty rootfs
#        portside-test/python-boto3:latest  Debian minbase + python3, python3-boto3 and a current
#                                           boto3 from PyPI (Debian's 1.26 predates AWS_ENDPOINT_URL)
#      Their rootfs tarballs are cached in $PORTSIDE_CACHE_DIR/images, so re-importing takes seconds.
#
# Progress goes to stderr. Stdout carries only `export NAME=value` lines for the caller to eval:
#   PORTSIDE_DOCKER=1|0          whether a Docker Engine answers
#   PORTSIDE_TEST_IMAGES="..."   the test images that exist and ran
#
# Settings (environment):
#   PORTSIDE_CACHE_DIR       state and caches (default: ~/.cache/portside)
#   PORTSIDE_SKIP_DOCKER=1   leave Docker alone (no engine, no images)
#   PORTSIDE_DEBIAN_MIRROR   Debian mirror for debootstrap (default: the one apt uses here)
#   PORTSIDE_DOCKERD_TIMEOUT seconds to wait for a started dockerd (default: 60)
set -euo pipefail
shopt -s nullglob

# Everything this script and its commands print goes to stderr; fd 3 keeps the real stdout.
exec 3>&1 1>&2

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${PORTSIDE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/portside}
VENV=$REPO/.venv
STAMP=$VENV/.portside-pyproject.sha256
# Bump a recipe's revision to rebuild that image (and its cached tarball) everywhere.
BUSYBOX_IMAGE=portside-test/busybox:latest
BUSYBOX_RECIPE=r1
PYTHON_IMAGE=portside-test/python-boto3:latest
PYTHON_RECIPE=r1
PYTHON_SUITE=bookworm  # Debian's python3 is 3.11 there, like ours
RECIPE_LABEL=org.portside.test-image.recipe

started_at=$(date +%s)
say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }
is_root() { [[ $(id -u) -eq 0 ]]; }

mkdir -p "$STATE"

# Cleanup of temporary build trees. `rm --one-file-system` never descends into a mount (debootstrap
# mounts /proc and /sys inside its target), and anything still mounted there is unmounted first.
BUILD_DIRS=()
cleanup() {
    local dir mnt
    for dir in "${BUILD_DIRS[@]}"; do
        [[ -d $dir ]] || continue
        while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done \
            < <(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r)
        rm -rf --one-file-system "$dir"
    done
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
# 1. Python environment
# ---------------------------------------------------------------------------------------------

find_python() {
    local candidate
    for candidate in python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

setup_venv() {
    # Serialise concurrent runs in this work tree (e.g. up.sh and test.sh) on pyproject.toml itself.
    exec 8<"$REPO/pyproject.toml"
    flock 8

    if [[ ! -e $VENV/bin/python && ! -L $VENV/bin/python ]]; then
        [[ -e $VENV ]] && die ".venv exists but has no bin/python; move it away and rerun"
        local python
        python=$(find_python) || die "no python3 >= 3.11 found on PATH"
        say "creating .venv with $python ($("$python" --version 2>&1))"
        "$python" -m venv "$VENV"
    fi
    "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die ".venv/bin/python does not run or is older than 3.11; move .venv away and rerun"

    local want
    want=$(sha256sum "$REPO/pyproject.toml" | cut -d' ' -f1)
    if [[ ! -f $STAMP || $(<"$STAMP") != "$want" ]]; then
        say "installing portside and its test dependencies into .venv (pyproject.toml changed)"
        (cd "$REPO" && "$VENV/bin/python" -m pip install --disable-pip-version-check -qq -e '.[test]')
        echo "$want" >"$STAMP"
    fi
    exec 8<&-
}

# ---------------------------------------------------------------------------------------------
# 2. Docker Engine
# ---------------------------------------------------------------------------------------------

APT_UPDATED=0
apt_install() {
    is_root || die "need root to install $*"
    export DEBIAN_FRONTEND=noninteractive
    apt_update_once
    say "apt-get install $*"
    # A package's maintainer script must not start its service (docker.io would start dockerd
    # with iptables on): policy-rc.d answers 101, "action forbidden", while we install.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
    fi
    local rc=0
    apt-get -q install -y --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" >/dev/null || rc=$?
    if [[ $own_policy == 1 ]]; then rm -f "$policy"; fi
    [[ $rc == 0 ]] || die "apt-get install $* failed"
}

engine_answers() {
    command -v docker >/dev/null && timeout 20 docker info >/dev/null 2>&1
}

DOCKERD=/usr/sbin/dockerd
DOCKERD_PID=$STATE/dockerd.pid
DOCKERD_LOG=$STATE/dockerd.log

# Subnets, all link-local (169.254.0.0/16) as DESIGN.md asks of task networks: they shadow no real
# network, and with forwarding off nothing routes out of them.
#  - 169.254.0.0/24 and 169.254.255.0/24 are reserved by RFC 3927: unused.
#  - 169.254.1.0/24: docker0, the default bridge (--bip).
#  - 169.254.32.0/19 and 169.254.64.0/19: Docker's pools for networks created without a subnet,
#    64 networks of /24.
#  - 169.254.96.0 and up stays free for portside's own task networks and for AWS's fixed
#    addresses: 169.254.169.254 (instance metadata), 169.254.170.2 (ECS task metadata and
#    credentials, so 169.254.170.0/24 must never be a Docker network) and 169.254.172.0/22
#    (ECS's ecs-bridge for awsvpc tasks).
# shellcheck disable=SC2054  # the commas belong to --default-address-pool's value
DOCKERD_ARGS=(
    --iptables=false --ip-masq=false --ip-forward=false
    --bip=169.254.1.1/24
    --default-address-pool base=169.254.32.0/19,size=24
    --default-address-pool base=169.254.64.0/19,size=24
    --pidfile="$DOCKERD_PID"
)

start_dockerd() {
    if [[ ! -x $DOCKERD ]] || ! command -v containerd >/dev/null || ! command -v runc >/dev/null; then
        apt_install docker.io
    fi
    [[ -x $DOCKERD ]] || die "docker.io installed but $DOCKERD is missing"

    local pid=""
    if [[ -f $DOCKERD_PID ]]; then pid=$(<"$DOCKERD_PID"); fi
    if [[ -n $pid && $(readlink "/proc/$pid/exe" 2>/dev/null) == */dockerd ]]; then
        say "dockerd (pid $pid) is starting; waiting for it"
    else
        if [[ -f $DOCKERD_LOG ]]; then mv -f "$DOCKERD_LOG" "$DOCKERD_LOG.1"; fi
        say "starting dockerd (log: $DOCKERD_LOG)"
        # Debian's dockerd, with the containerd and runc of the same packages: PATH holds only
        # the system directories, so no other containerd or runc on PATH is picked up. It must
        # not inherit fd 3 (our caller's $(...) would wait for it) nor the lock on fd 9.
        PATH=/usr/sbin:/usr/bin:/sbin:/bin setsid "$DOCKERD" "${DOCKERD_ARGS[@]}" \
            </dev/null >>"$DOCKERD_LOG" 2>&1 3>&- 9>&- &
        pid=$!
    fi

    local deadline=$(( $(date +%s) + ${PORTSIDE_DOCKERD_TIMEOUT:-60} ))
    until engine_answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$DOCKERD_LOG" >&2 || true
            die "dockerd exited before answering; see $DOCKERD_LOG"
        fi
        if (( $(date +%s) >= deadline )); then
            tail -n 20 "$DOCKERD_LOG" >&2 || true
            die "dockerd (pid $pid) did not answer within ${PORTSIDE_DOCKERD_TIMEOUT:-60}s; see $DOCKERD_LOG"
        fi
        sleep 0.5
    done
    say "dockerd (pid $pid) answers"
}

DOCKER_OK=0
setup_docker() {
    if engine_answers; then
        DOCKER_OK=1
    elif ! is_root; then
        say "warning: no Docker Engine answers and we are not root; tests that need Docker will skip"
    elif [[ -n ${DOCKER_HOST:-} ]]; then
        say "warning: DOCKER_HOST=$DOCKER_HOST does not answer; not starting a local engine"
    else
        start_dockerd
        DOCKER_OK=1
    fi
}

# ---------------------------------------------------------------------------------------------
# 3. Test images
# ---------------------------------------------------------------------------------------------
# Builders write a rootfs tarball to $1, or say why they cannot and write nothing. They are
# called plainly, never as an `if` condition, so that `set -e` holds inside them.

image_current() {  # image recipe
    [[ $(docker image inspect -f "{{index .Config.Labels \"$RECIPE_LABEL\"}}" "$1" 2>/dev/null) == "$2" ]]
}

new_build_dir() {
    local dir
    dir=$(mktemp -d "$STATE/build.XXXXXX")
    BUILD_DIRS+=("$dir")
    BUILD_DIR=$dir
}

apt_update_once() {
    if [[ $APT_UPDATED == 0 ]] && is_root; then
        say "apt-get update"
        apt-get -q update >/dev/null
        APT_UPDATED=1
    fi
}

# Debian's busybox before 1.36.1-5 lacks FEATURE_WGET_TIMEOUT, and its `wget -T N` segfaults:
# in this image, bound a wget with `timeout N wget ...` instead.
build_busybox() {  # tarball
    new_build_dir
    local build=$BUILD_DIR
    apt_update_once
    say "building the busybox rootfs from Debian's busybox-static"
    if ! (cd "$build" && apt-get -q -o APT::Sandbox::User=root download busybox-static >/dev/null); then
        is_root && die "apt-get download busybox-static failed"
        say "warning: cannot download busybox-static (apt lists missing?); $BUSYBOX_IMAGE skipped"
        return 0
    fi
    local debs=("$build"/busybox-static_*.deb)
    dpkg-deb -x "${debs[0]}" "$build/pkg"

    local root=$build/rootfs applet
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,proc,sys,dev,tmp,var/tmp}
    chmod 1777 "$root/tmp" "$root/var/tmp"
    cp "$build/pkg/bin/busybox" "$root/bin/busybox"
    for applet in $("$root/bin/busybox" --list-full); do
        if [[ $applet != bin/busybox && ! -e $root/$applet ]]; then
            ln -s /bin/busybox "$root/$applet"
        fi
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
        >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$1.tmp" .
    mv "$1.tmp" "$1"
}

# The Debian archive that apt uses here: the first deb source whose suites include this
# machine's release and that is not the security archive.
debian_mirror() {
    if [[ -n ${PORTSIDE_DEBIAN_MIRROR:-} ]]; then
        echo "$PORTSIDE_DEBIAN_MIRROR"
        return 0
    fi
    local codename file files=()
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        if [[ -f $file ]]; then files+=("$file"); fi
    done
    if [[ -z $codename || ${#files[@]} -eq 0 ]]; then return 0; fi
    awk -v want="$codename" '
        function found(uri) { if (uri !~ /security/) { print uri; exit } }
        FNR == 1 { types = uris = suites = "" }
        FILENAME ~ /\.sources$/ {
            if ($0 ~ /^[[:space:]]*$/) { types = uris = suites = ""; next }
            if ($1 == "Types:") types = $0
            if ($1 == "URIs:") uris = $2
            if ($1 == "Suites:") suites = " " $0 " "
            if (types ~ /[[:space:]]deb([[:space:]]|$)/ && uris != "" && index(suites, " " want " ")) {
                found(uris); types = uris = suites = ""
            }
            next
        }
        $1 == "deb" {
            i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
            if ($(i + 1) == want) found($i)
        }' "${files[@]}"
}

build_python_boto3() {  # tarball
    if ! is_root; then
        say "warning: building $PYTHON_IMAGE needs root (debootstrap); skipped"
        return 0
    fi
    if ! command -v debootstrap >/dev/null; then apt_install debootstrap; fi
    local mirror
    mirror=$(debian_mirror)
    [[ -n $mirror ]] || die "cannot tell which Debian mirror apt uses; set PORTSIDE_DEBIAN_MIRROR"
    # debootstrap fetches with wget: hand it apt's proxy, if apt has one.
    local HTTP_PROXY=""
    eval "$(apt-config shell HTTP_PROXY Acquire::http::Proxy)"
    if [[ -n $HTTP_PROXY && -z ${http_proxy:-} ]]; then export http_proxy=$HTTP_PROXY; fi

    new_build_dir
    local build=$BUILD_DIR root=$BUILD_DIR/rootfs
    say "debootstrap $PYTHON_SUITE (minbase, python3, python3-boto3) from $mirror"
    debootstrap --variant=minbase --include=python3,python3-boto3,ca-certificates \
        "$PYTHON_SUITE" "$root" "$mirror" >"$build/debootstrap.log" 2>&1 || {
        tail -n 20 "$build/debootstrap.log" >&2
        die "debootstrap failed"
    }
    local pyver
    pyver=$(chroot "$root" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    say "adding a current boto3 from PyPI for the image's python$pyver"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -qq --no-warn-script-location \
        --only-binary=:all: --python-version "$pyver" \
        --target "$root/usr/local/lib/python$pyver/dist-packages" boto3
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/tmp/*
    tar -C "$root" --numeric-owner -cf "$1.tmp" .
    mv "$1.tmp" "$1"
}

check_busybox() {
    docker run --rm --network none "$BUSYBOX_IMAGE" true
}

check_python_boto3() {
    docker run --rm --network none "$PYTHON_IMAGE" \
        python3 -c 'import boto3; print("boto3", boto3.__version__)'
}

# ensure_image IMAGE RECIPE BUILD CHECK [IMPORT CHANGE...]: unless the engine has IMAGE at
# RECIPE, import it from its cached tarball (BUILD makes the tarball when missing) and run CHECK.
# Adds IMAGE to READY_IMAGES when it is there and runs.
READY_IMAGES=()
ensure_image() {
    local image=$1 recipe=$2 build=$3 check=$4
    shift 4
    if image_current "$image" "$recipe"; then
        READY_IMAGES+=("$image")
        return 0
    fi
    local name=${image%%:*}
    name=${name##*/}
    local tarball=$STATE/images/$name-$recipe.tar old
    mkdir -p "$STATE/images"
    if [[ ! -s $tarball ]]; then
        local t0=$SECONDS
        "$build" "$tarball"
        [[ -s $tarball ]] || return 0
        for old in "$STATE/images/$name"-*.tar*; do
            if [[ $old != "$tarball" ]]; then rm -f "$old"; fi
        done
        say "built $tarball ($(du -h "$tarball" | cut -f1), $((SECONDS - t0))s)"
    fi
    say "importing $image"
    local changes=(--change "LABEL $RECIPE_LABEL=$recipe") change out
    for change in "$@"; do changes+=(--change "$change"); done
    docker import "${changes[@]}" "$tarball" "$image" >/dev/null
    out=$("$check" 2>&1) || { printf '%s\n' "$out" >&2; die "$image does not run ($check)"; }
    say "$image runs${out:+: $out}"
    READY_IMAGES+=("$image")
}

# ---------------------------------------------------------------------------------------------

setup_venv

if [[ ${PORTSIDE_SKIP_DOCKER:-0} == 1 ]]; then
    say "PORTSIDE_SKIP_DOCKER=1: leaving Docker alone"
else
    # Engine-wide work is serialised across work trees: two runs must not both start a dockerd,
    # nor both spend a minute building the same image.
    exec 9>"$STATE/setup.lock"
    flock -w 900 9 || die "timed out waiting for another setup.sh to finish with Docker"
    setup_docker
    if [[ $DOCKER_OK == 1 ]]; then
        # The ECR tests copy images to and from portside's registry with skopeo.
        if ! command -v skopeo >/dev/null && is_root; then apt_install skopeo; fi
        ensure_image "$BUSYBOX_IMAGE" "$BUSYBOX_RECIPE" build_busybox check_busybox \
            'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' 'CMD ["sh"]'
        ensure_image "$PYTHON_IMAGE" "$PYTHON_RECIPE" build_python_boto3 check_python_boto3 \
            'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            'ENV LANG=C.UTF-8' 'CMD ["python3"]'
    fi
    exec 9>&-
fi

echo "export PORTSIDE_DOCKER=$DOCKER_OK" >&3
echo "export PORTSIDE_TEST_IMAGES='${READY_IMAGES[*]}'" >&3
say "ready ($(( $(date +%s) - started_at ))s)"
