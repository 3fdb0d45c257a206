#!/usr/bin/env bash
# usage: ip netns exec <gateway-ns> site-exec.sh <site-dir> -- <command> [args...]
#
# Runs <command> with a private /run and /etc/swanctl. `ip netns exec` has already put us in a new mount
# namespace whose mounts do not propagate back (it makes / a recursive slave), so these bind mounts are
# seen by <command> and its children only. Why: wireguard-go puts its UAPI socket at
# /run/wireguard/<ifname>.sock and charon its pid file at /run/charon.pid whatever the network namespace,
# so two sites on one machine would collide (see LAB-NOTES.md). The command replaces this shell (exec),
# so its PID is the one our caller started, and `nsenter -t <pid> -m -n` reaches both its namespaces.
set -euo pipefail

if [[ $# -lt 3 || $2 != -- ]]; then
  echo "usage: site-exec.sh <site-dir> -- <command> [args...]" >&2
  exit 2
fi
site_dir=$1
shift 2

if [[ $(readlink /proc/self/ns/mnt) == $(readlink /proc/$PPID/ns/mnt) ]]; then
  echo "site-exec.sh: refusing to bind-mount in the mount namespace of my caller; run me under 'ip netns exec'" >&2
  exit 2
fi

mkdir -p "$site_dir/run" "$site_dir/etc-swanctl"
# The mount point must exist. It is the directory the strongswan-swanctl package ships; creating it empty
# is the only change this script makes outside the site directory.
mkdir -p /etc/swanctl
mount --bind "$site_dir/run" /run
mount --bind "$site_dir/etc-swanctl" /etc/swanctl
# Some tools expect these under /run.
mkdir -p /run/lock

exec "$@"
