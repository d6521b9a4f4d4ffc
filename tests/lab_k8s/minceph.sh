#!/bin/bash
# Tiny local Ceph for the kubelab volume tests: 1 mon, 1 mgr, 1 bluestore OSD
# on a sparse file, 1 MDS, pool size 1, CephFS "cephfs" and RBD pool "rbd".
#   minceph.sh start DIR [MON_PORT]   build (first time) and start the daemons
#   minceph.sh stop DIR               stop the daemons (by their pid files)
#   minceph.sh stop-mds DIR / start-mds DIR
# Writes DIR/ceph.conf and DIR/keyring (client.admin).
set -euo pipefail
cmd=$1; D=$(realpath -m "$2"); PORT=${3:-16800}
C="ceph -c $D/ceph.conf --connect-timeout 10"

conf() {
  cat > "$D/ceph.conf" <<CONF
[global]
fsid = $(cat "$D/fsid")
mon_host = v2:127.0.0.1:$PORT
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
auth_allow_insecure_global_id_reclaim = false
run_dir = $D/run
crash_dir = $D/crash
log_file = $D/log/\$name.log
ms_bind_ipv6 = false
osd_crush_chooseleaf_type = 0
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_allow_pool_delete = true
mon_data_avail_warn = 2
mon_data_avail_crit = 1
mon_warn_on_pool_no_redundancy = false
keyring = $D/keyring
[mon]
pid_file = $D/run/\$name.pid
mon_data = $D/mon.\$id
mon_memory_target = 268435456
[mgr]
pid_file = $D/run/\$name.pid
mgr_data = $D/mgr.\$id
keyring = $D/mgr.\$id/keyring
[osd]
pid_file = $D/run/\$name.pid
osd_data = $D/osd.\$id
keyring = $D/osd.\$id/keyring
osd_objectstore = bluestore
bluestore_block_create = true
bluestore_block_size = 4294967296
bluestore_block_db_create = false
bluestore_block_wal_create = false
bluestore_fsck_on_mkfs = false
osd_memory_target = 536870912
osd_op_num_shards = 1
osd_op_num_threads_per_shard = 1
[mds]
pid_file = $D/run/\$name.pid
mds_data = $D/mds.\$id
keyring = $D/mds.\$id/keyring
mds_cache_memory_limit = 134217728
CONF
}

build() {
  mkdir -p "$D"/{log,run,crash,mon.a,mgr.x,osd.0,mds.a}
  python3 -c 'import uuid; print(uuid.uuid4())' > "$D/fsid"
  conf
  ceph-authtool --create-keyring "$D/keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool --create-keyring "$D/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$D/mon.keyring" --import-keyring "$D/keyring" >/dev/null
  monmaptool --create --addv a "[v2:127.0.0.1:$PORT]" --fsid "$(cat "$D/fsid")" "$D/monmap" >/dev/null
  ceph-mon -c "$D/ceph.conf" --mkfs -i a --monmap "$D/monmap" --keyring "$D/mon.keyring"
  ceph-mon -c "$D/ceph.conf" -i a
  $C auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' > "$D/mgr.x/keyring"
  ceph-mgr -c "$D/ceph.conf" -i x
  local uuid secret
  uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
  secret=$(ceph-authtool --gen-print-key)
  echo "{\"cephx_secret\": \"$secret\"}" | $C osd new "$uuid" -i - >/dev/null
  ceph-authtool --create-keyring "$D/osd.0/keyring" --name osd.0 --add-key "$secret" >/dev/null
  ceph-osd -c "$D/ceph.conf" -i 0 --mkfs --osd-uuid "$uuid" 2>>"$D/log/mkfs.log"
  ceph-osd -c "$D/ceph.conf" -i 0
  $C auth get-or-create mds.a mon 'allow profile mds' osd 'allow rwx' mds 'allow' mgr 'allow profile mds' \
    > "$D/mds.a/keyring"
  ceph-mds -c "$D/ceph.conf" -i a
  $C osd pool create cephfs_metadata 8 >/dev/null
  $C osd pool create cephfs_data 8 >/dev/null
  $C fs new cephfs cephfs_metadata cephfs_data >/dev/null
  $C osd pool create rbd 8 >/dev/null
  rbd -c "$D/ceph.conf" pool init rbd
  touch "$D/built"
}

stop_daemon() {
  local pidf="$D/run/$1.pid"
  [ -f "$pidf" ] || return 0
  local pid; pid=$(cat "$pidf")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidf"
}

case "$cmd" in
  start)
    if [ -f "$D/built" ]; then
      ceph-mon -c "$D/ceph.conf" -i a; ceph-mgr -c "$D/ceph.conf" -i x
      ceph-osd -c "$D/ceph.conf" -i 0; ceph-mds -c "$D/ceph.conf" -i a
    else
      build
    fi
    for _ in $(seq 1 120); do
      if $C fs dump -f json 2>/dev/null | grep -q '"up:active"'; then echo "ceph ready in $D"; exit 0; fi
      sleep 1
    done
    echo "ceph did not become ready" >&2; exit 1 ;;
  stop) for d in mds.a osd.0 mgr.x mon.a; do stop_daemon "$d"; done ;;
  stop-mds) stop_daemon mds.a; $C mds fail a >/dev/null 2>&1 || true ;;
  start-mds) ceph-mds -c "$D/ceph.conf" -i a ;;
  *) echo "usage: $0 start|stop|stop-mds|start-mds DIR [PORT]" >&2; exit 2 ;;
esac
