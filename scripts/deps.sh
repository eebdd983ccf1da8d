#!/usr/bin/env bash
# Install xdpwg's build and test dependencies from Debian 12. Idempotent: asks dpkg first,
# and only runs apt-get when something is missing. --vm adds what vmtest needs.
set -euo pipefail

pkgs=(
	build-essential clang llvm libbpf-dev libxdp-dev xdp-tools bpftool
	libsodium-dev libssl-dev libmnl-dev libelf-dev zlib1g-dev pkg-config
	clang-format cppcheck libclang-rt-14-dev valgrind
	wireguard-go wireguard-tools iproute2 iputils-ping iperf3 ethtool socat netcat-openbsd
	tcpdump jq gnuplot-nox man-db util-linux perl procps conntrack nftables curl prometheus python3
	etcd-server etcd-client bird2 libcurl4-openssl-dev libjson-c-dev
)
if [ "${1:-}" = "--vm" ]; then
	pkgs+=(qemu-system-x86 busybox-static linux-image-amd64 tiny-initramfs cpio kmod xz-utils)
fi

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages (${missing[*]}); run 'make deps' as root" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's prometheus, etcd-server and bird2 packages enable and start a system-wide server: the
# tests run their own, in namespaces, with temporary data directories, so the ones the packages
# started are not wanted. Only for what this run installed: an operator's own are left alone.
if [ -d /run/systemd/system ]; then
	for ps in prometheus:prometheus etcd-server:etcd bird2:bird; do
		if [[ " ${missing[*]} " == *" ${ps%%:*} "* ]]; then
			systemctl disable --now "${ps#*:}" >/dev/null 2>&1 || true
		fi
	done
fi
