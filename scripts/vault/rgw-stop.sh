#!/usr/bin/env bash
# rgw-stop.sh - stop the local vault started by scripts/vault/rgw-start.sh in DIR: each daemon by its
# pid file, after checking that the pid really is ours (its command line has "--conf DIR/ceph.conf"),
# so a stale pid file never kills someone else's process.
# Usage: scripts/vault/rgw-stop.sh [DIR] [--purge]   --purge also deletes DIR (only a folder rgw-start.sh made)
set -euo pipefail
PURGE=0; ARGS=()
for a in "$@"; do [ "$a" = --purge ] && PURGE=1 || ARGS+=("$a"); done
DIR=$(realpath -m -- "${ARGS[0]:-./.vault-rgw}")
CONF=$DIR/ceph.conf
[ -d "$DIR" ] || { echo "nothing to stop: $DIR does not exist" >&2; exit 0; }
[ -e "$DIR/.custody-vault-rgw" ] || { echo "$DIR is not a folder made by rgw-start.sh; refusing" >&2; exit 1; }

ourpid() {
  local f=$DIR/run/ceph-$1.pid pid cl
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  cl=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cl == *"--conf $CONF "* ]] && echo "$pid"
}

rc=0
for n in client.rgw.a osd.0 mon.a; do            # reverse start order
  if ! pid=$(ourpid "$n"); then echo "$n: not running"; continue; fi
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$n (pid $pid): no exit after 15s, sending SIGKILL"; kill -KILL "$pid" 2>/dev/null || rc=1
  else
    echo "$n (pid $pid): stopped"
  fi
  rm -f "$DIR/run/ceph-$n.pid"
done
if [ "$PURGE" = 1 ]; then rm -rf -- "$DIR"; echo "purged $DIR"; fi
exit $rc
