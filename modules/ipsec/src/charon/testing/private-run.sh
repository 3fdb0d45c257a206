#!/bin/bash
# Runs a command (charon) with a private /run. Meant to be the tail of
#   unshare --mount --propagation private -- bash private-run.sh /usr/lib/ipsec/charon
# charon writes its compiled-in pid file /run/charon.pid and refuses to start while another charon holds
# it, so each instance gets a tmpfs of its own on /run, visible only in this mount namespace. exec keeps
# the PID: the supervisor's handle is charon's own. STRONGSWAN_CONF comes from the environment.
set -euo pipefail
mount -t tmpfs -o mode=0755 tmpfs /run
exec "$@"
