#!/usr/bin/env bash
# rgw-start.sh - a local evidence vault for custody's tests, CI and demos: a throwaway single-node
# Ceph cluster (1 mon + 1 OSD, no mgr) plus the RADOS Gateway (S3 with Object Lock) on 127.0.0.1,
# everything (config, data, logs, pid files, sockets) inside one folder.
#
# Why Ceph RGW: it is an S3 with Object Lock that Debian packages (no container, no download at
# test time), and it behaves as AWS S3 does on everything custody relies on (compliance retention,
# 403 on deleting a locked version, legal holds); where it differs, README.md ("Evidence vault")
# says so. NOT for production: auth none between the daemons, one copy of every object.
#
# Needs (Debian 12): apt-get install --no-install-recommends ceph-mon ceph-osd radosgw ceph-common
#
# Usage: scripts/vault/rgw-start.sh [DIR]            (default DIR: ./.vault-rgw)
# Env (only read when DIR is set up the first time, then kept in DIR/settings and DIR/s3.env):
#   RGW_PORT=7480  MON_PORT=3300
#   OSD_BACKEND=memstore|bluestore  (memstore: in RAM, lost when the OSD stops -> the folder is
#                                    rebuilt from scratch on the next start; bluestore: sparse file
#                                    DIR/osd/block, survives restarts, needs O_DIRECT (not tmpfs))
#   OSD_SIZE_MB=2048                 (memstore RAM cap / bluestore file size)
#   S3_ACCESS_KEY, S3_SECRET_KEY     (default: random, saved in DIR/s3.env, mode 0600)
#   RGW_UID=custody                  START_TIMEOUT=120 (seconds per wait)
# Idempotent: if everything is already running it only checks and prints.
# Prints, as the AWS SDK (and so custody) reads them, and saves in DIR/s3.env:
#   AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
# Use:  set -a; . DIR/s3.env; set +a; custody vault init s3://evidence
# Stop: scripts/vault/rgw-stop.sh DIR [--purge]
#
# Settings below that look odd each fixed a hang or a failure met on these machines; the comment
# next to each says which.
set -euo pipefail

DIR=$(realpath -m -- "${1:-./.vault-rgw}")
case "$DIR" in *[[:space:]]*) echo "DIR must not contain spaces: $DIR" >&2; exit 2 ;; esac
CONF=$DIR/ceph.conf
MARK=$DIR/.custody-vault-rgw     # marks the folder as ours (the stop script checks it before purging)
BOOT=$DIR/.bootstrapped
T=${START_TIMEOUT:-120}
T0=$(date +%s.%N)

for b in ceph ceph-conf ceph-mon ceph-osd monmaptool radosgw radosgw-admin; do
  command -v "$b" >/dev/null || { echo "missing $b: apt-get install --no-install-recommends ceph-mon ceph-osd radosgw ceph-common" >&2; exit 1; }
done

log() { printf '[vault-rgw %6.2fs] %s\n' "$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')" "$*" >&2; }
die() {
  echo "ERROR: $*" >&2
  if [ -e "$MARK" ]; then for f in "$DIR"/log/ceph-*.log; do [ -f "$f" ] && { echo "--- tail $f" >&2; tail -n 15 "$f" >&2; }; done; fi
  exit 1
}
# Any other command that fails ends the script (set -e): say which, with the logs, instead of
# exiting without a word (a failed start in a benchmark said only "osd.0 up: ok").
set -E
trap 'die "line $LINENO: \"$BASH_COMMAND\" failed (status $?)"' ERR

# pid of daemon $1 (mon.a | osd.0 | client.rgw.a) if it is running with *our* config, else nothing
ourpid() {
  local f=$DIR/run/ceph-$1.pid pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f"); local cl
  cl=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cl == *"--conf $CONF "* ]] && echo "$pid"
}
running() { ourpid "$1" >/dev/null; }
# true if something accepts TCP connections on 127.0.0.1:$1
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
http_ok() {
  local line rest
  { exec 3<>"/dev/tcp/127.0.0.1/$RGW_PORT"; } 2>/dev/null || return 1
  printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  IFS= read -r -t 5 line <&3 || true
  while IFS= read -r -t 5 rest <&3; do :; done   # drain until the server closes
  exec 3<&- 3>&-
  [[ $line == *" 200 "* ]]
}
waitfor() { # waitfor DESCRIPTION COMMAND...
  local what=$1; shift; local end=$(( $(date +%s) + T ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || die "timeout after ${T}s waiting for $what"
    sleep 0.2
  done
  log "$what: ok"
}
C() { ceph --conf "$CONF" --connect-timeout 10 "$@"; }
osd_up() { local j; j=$(C osd dump -f json) && [[ $j =~ \"osd\":0,\"uuid\":\"[^\"]*\",\"up\":1 ]]; }
stop_ours() { # stop our daemons (by pid file + cmdline check), newest first
  local n pid i
  for n in client.rgw.a osd.0 mon.a; do
    pid=$(ourpid "$n") || continue
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  done
}

mkdir -p "$DIR"
if [ -e "$DIR/ceph.conf" ] || [ -n "$(ls -A "$DIR")" ]; then
  [ -e "$MARK" ] || die "$DIR is not empty and not a folder made by rgw-start.sh; refusing to use it"
fi
touch "$MARK"

# ---- settings: from DIR/settings once bootstrapped, else from env ------------------------------
if [ -f "$DIR/settings" ]; then
  # shellcheck disable=SC1091
  . "$DIR/settings"
else
  RGW_PORT=${RGW_PORT:-7480}; MON_PORT=${MON_PORT:-3300}
  OSD_BACKEND=${OSD_BACKEND:-memstore}; OSD_SIZE_MB=${OSD_SIZE_MB:-2048}
  RGW_UID=${RGW_UID:-custody}
  case "$OSD_BACKEND" in memstore|bluestore) ;; *) die "OSD_BACKEND must be memstore or bluestore" ;; esac
  printf 'RGW_PORT=%s\nMON_PORT=%s\nOSD_BACKEND=%s\nOSD_SIZE_MB=%s\nRGW_UID=%s\n' \
    "$RGW_PORT" "$MON_PORT" "$OSD_BACKEND" "$OSD_SIZE_MB" "$RGW_UID" >"$DIR/settings"
fi

# ---- already fully up? --------------------------------------------------------------------------
if running mon.a && running osd.0 && running client.rgw.a && http_ok && [ -f "$DIR/s3.env" ]; then
  log "already running"
  cat "$DIR/s3.env"; exit 0
fi

# memstore keeps objects only in the OSD's memory: if the OSD is gone, so is the data -> rebuild
if [ -f "$BOOT" ] && [ "$OSD_BACKEND" = memstore ] && ! running osd.0; then
  log "memstore OSD not running: its data is gone, rebuilding the cluster from scratch"
  stop_ours
  rm -f "$BOOT"
fi
if [ ! -f "$BOOT" ]; then   # (re)bootstrap: wipe everything except settings and keys
  stop_ours
  rm -rf "$DIR/mon" "$DIR/osd" "$DIR/run" "$DIR/log" "$DIR/rgw" "$DIR/crash" "$CONF"
fi
mkdir -p "$DIR/mon" "$DIR/osd" "$DIR/run" "$DIR/log" "$DIR/rgw" "$DIR/crash"

for p in "$MON_PORT:mon.a" "$RGW_PORT:client.rgw.a"; do
  if ! running "${p#*:}" && port_busy "${p%%:*}"; then die "port 127.0.0.1:${p%%:*} already in use by another process"; fi
done

# ---- ceph.conf ----------------------------------------------------------------------------------
if [ ! -f "$CONF" ]; then
  FSID=$(cat /proc/sys/kernel/random/uuid)
  if [ "$OSD_BACKEND" = memstore ]; then
    OSDSTORE="osd objectstore = memstore
memstore device bytes = $(( OSD_SIZE_MB * 1048576 ))"
  else
    OSDSTORE="osd objectstore = bluestore
bluestore block create = true
bluestore block size = $(( OSD_SIZE_MB * 1048576 ))
bluestore block db create = false
bluestore block wal create = false
bluestore cache autotune = false
bluestore cache size = 134217728
osd memory target = 939524096"
  fi
  cat >"$CONF.tmp" <<EOF
# generated by custody scripts/vault/rgw-start.sh - single node, auth none, loopback only. NOT for production.
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
# radosgw defaults to ms_mon_client_mode=secure, which needs cephx -> would hang 300s with auth none
ms mon client mode = crc
client mount timeout = 30
run dir = $DIR/run
crash dir = $DIR/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
# never let the mon shut itself down because the CI disk is fuller than 95%
mon data avail warn = 1
mon data avail crit = 0

[mon]
mon data = $DIR/mon
mon cluster log file = $DIR/log/ceph.log
# commit map changes every 50ms instead of 1s: radosgw's first start creates pools one by one
paxos propose interval = 0.05
admin socket = $DIR/run/\$cluster-\$name.asok
pid file = $DIR/run/\$cluster-\$name.pid
log file = $DIR/log/\$cluster-\$name.log

[osd]
osd data = $DIR/osd
$OSDSTORE
osd crush update on start = true
admin socket = $DIR/run/\$cluster-\$name.asok
pid file = $DIR/run/\$cluster-\$name.pid
log file = $DIR/log/\$cluster-\$name.log

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $DIR/rgw
rgw thread pool size = 64
admin socket = $DIR/run/\$cluster-\$name.asok
pid file = $DIR/run/\$cluster-\$name.pid
log file = $DIR/log/\$cluster-\$name.log
EOF
  mv "$CONF.tmp" "$CONF"
fi

# ---- mon ----------------------------------------------------------------------------------------
if [ ! -f "$BOOT" ]; then
  FSID=$(ceph-conf --conf "$CONF" --lookup fsid)
  # explicit monmap naming mon "a" at our port (else a non-default MON_PORT makes the mon bind 3300/6789
  # and probe forever for itself)
  monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/run/monmap" >"$DIR/log/mkfs-mon.out" 2>&1 \
    || die "monmaptool failed: $(cat "$DIR/log/mkfs-mon.out")"
  ceph-mon --conf "$CONF" --mkfs -i a --monmap "$DIR/run/monmap" >>"$DIR/log/mkfs-mon.out" 2>&1 || die "ceph-mon --mkfs failed: $(cat "$DIR/log/mkfs-mon.out")"
fi
running mon.a || ceph-mon --conf "$CONF" -i a || die "ceph-mon failed to start"
waitfor "mon quorum" C mon stat

# ---- osd ----------------------------------------------------------------------------------------
if [ ! -f "$BOOT" ]; then
  OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
  id=$(C osd new "$OSD_UUID") || die "ceph osd new failed"
  [ "$id" = 0 ] || die "expected osd id 0, got '$id'"
  ceph-osd --conf "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" >"$DIR/log/mkfs-osd.out" 2>&1 || die "ceph-osd --mkfs failed: $(cat "$DIR/log/mkfs-osd.out")"
  touch "$BOOT"
fi
running osd.0 || ceph-osd --conf "$CONF" -i 0 >"$DIR/log/osd-start.out" 2>&1 || die "ceph-osd failed to start"
waitfor "osd.0 up" osd_up

# ---- rgw ----------------------------------------------------------------------------------------
running client.rgw.a || radosgw --conf "$CONF" -n client.rgw.a >"$DIR/log/rgw-start.out" 2>&1 || die "radosgw failed to start: $(cat "$DIR/log/rgw-start.out")"
waitfor "rgw http://127.0.0.1:$RGW_PORT" http_ok

# ---- S3 user ------------------------------------------------------------------------------------
want_ak=${S3_ACCESS_KEY:-}; want_sk=${S3_SECRET_KEY:-}
if [ -f "$DIR/s3.env" ]; then
  S3_ACCESS_KEY=$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' "$DIR/s3.env")
  S3_SECRET_KEY=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' "$DIR/s3.env")
fi
[ -n "$want_ak" ] && S3_ACCESS_KEY=$want_ak; [ -n "$want_sk" ] && S3_SECRET_KEY=$want_sk
S3_ACCESS_KEY=${S3_ACCESS_KEY:-$(head -c 300 /dev/urandom | tr -dc 'A-Z0-9' | head -c 20)}
S3_SECRET_KEY=${S3_SECRET_KEY:-$(head -c 600 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 40)}
RA() { radosgw-admin --conf "$CONF" "$@"; }
if ! info=$(RA user info --uid="$RGW_UID" 2>/dev/null); then
  RA user create --uid="$RGW_UID" --display-name="$RGW_UID" --access-key="$S3_ACCESS_KEY" --secret-key="$S3_SECRET_KEY" >/dev/null \
    || die "radosgw-admin user create failed"
  log "user $RGW_UID created"
elif ! grep -q "\"access_key\": \"$S3_ACCESS_KEY\"" <<<"$info"; then
  RA key create --uid="$RGW_UID" --key-type=s3 --access-key="$S3_ACCESS_KEY" --secret-key="$S3_SECRET_KEY" >/dev/null \
    || die "radosgw-admin key create failed"
  log "key added to user $RGW_UID"
fi
# The names the AWS SDK reads, so `set -a; . DIR/s3.env; set +a` is all a shell needs. The secret is
# in this file: it is created mode 0600 and lives only in DIR.
(umask 077; cat >"$DIR/s3.env.tmp" <<EOF
AWS_ENDPOINT_URL=http://127.0.0.1:$RGW_PORT
AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY
AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
EOF
)
mv "$DIR/s3.env.tmp" "$DIR/s3.env"
log "ready (osd backend: $OSD_BACKEND, folder: $DIR)"
cat "$DIR/s3.env"
