#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for trying `lrml sweep|reproduce --backend slurm` on a laptop and
# for the kit's Slurm integration test (build/test.sh starts it when CI=true or LRML_SLURM=1).
#
#   build/slurm-local-cluster.sh start [STATE_DIR]   start munged, slurmctld and slurmd; prints the SLURM_CONF to export
#   build/slurm-local-cluster.sh stop  [STATE_DIR]   stop the daemons this script started (by the pids it recorded)
#   build/slurm-local-cluster.sh status [STATE_DIR]  sinfo / squeue of the cluster
#
# Needs root (slurmd starts tasks as the submitting user) and Debian's slurm-wlm and munge packages
# (apt-get install slurm-wlm munge). Everything it writes — munge key and socket, slurm.conf, state, spool and logs —
# lives in STATE_DIR (default: $LRML_SLURM_DIR, else ${TMPDIR:-/tmp}/lrml-slurm), never in the repository or /etc, and
# the daemons listen on this host only (NodeAddr 127.0.0.1). Clients find the cluster through SLURM_CONF:
#   export SLURM_CONF=STATE_DIR/slurm.conf
# The node is this host with its CPUs (nproc) and memory (free -m minus a 512 MB margin); select/cons_tres with
# CR_Core_Memory, proctrack/linuxproc, task/none, no accounting database (squeue and scontrol report job states;
# sacct needs slurmdbd, which a laptop cluster does not run).
set -euo pipefail

cmd=${1:-}
state=${2:-${LRML_SLURM_DIR:-${TMPDIR:-/tmp}/lrml-slurm}}
ctld_port=${LRML_SLURM_CTLD_PORT:-6817}
slurmd_port=${LRML_SLURM_SLURMD_PORT:-6818}

die() { echo "slurm-local-cluster: $*" >&2; exit 1; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop() {
  local stopped=0
  # jobs still in this cluster's queue (e.g. left by a failed test) end first, so no task outlives the daemons
  if pid_alive "$state/run/slurmctld.pid" && [ -f "$state/slurm.conf" ]; then
    SLURM_CONF="$state/slurm.conf" scancel --full -u "$(id -un)" 2>/dev/null || true
    for _ in $(seq 1 50); do
      [ -z "$(SLURM_CONF="$state/slurm.conf" squeue -h 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  for d in slurmd slurmctld munged; do
    local pf="$state/run/$d.pid"
    if pid_alive "$pf"; then
      local pid; pid=$(cat "$pf")
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
      echo "stopped $d (pid $pid)"
      stopped=$((stopped + 1))
    fi
    rm -f "$pf"
  done
  [ "$stopped" -gt 0 ] || echo "no daemon of $state was running"
}

start() {
  [ "$(id -u)" -eq 0 ] || die "start needs root: slurmd runs the tasks as the submitting user (sudo $0 start)."
  for b in munged slurmctld slurmd sbatch squeue; do
    command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || die "$b not found: apt-get install slurm-wlm munge"
  done
  if pid_alive "$state/run/slurmctld.pid"; then
    echo "already running ($state); export SLURM_CONF=$state/slurm.conf"
    return 0
  fi
  stop >/dev/null 2>&1 || true
  mkdir -p "$state"/{run,log,munge,ctld,spool}
  chmod 700 "$state/munge"
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(free -m | awk '/^Mem:/ { print $2 }')
  mem=$((mem > 1024 ? mem - 512 : mem / 2))

  # munge: a fresh key for this cluster only, its own socket
  if [ ! -s "$state/munge/munge.key" ]; then
    dd if=/dev/urandom of="$state/munge/munge.key" bs=1024 count=1 status=none
  fi
  chmod 400 "$state/munge/munge.key"
  /usr/sbin/munged --force --key-file="$state/munge/munge.key" --socket="$state/munge/munge.socket" \
    --pid-file="$state/run/munged.pid" --log-file="$state/log/munged.log" --seed-file="$state/munge/munged.seed"

  cat > "$state/slurm.conf" <<EOF
# Single-node Slurm written by build/slurm-local-cluster.sh (state in $state)
ClusterName=lrml-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$state/munge/munge.socket
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerParameters=sched_interval=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=600
MaxArraySize=10001
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF="$state/slurm.conf"
  /usr/sbin/slurmctld -i
  /usr/sbin/slurmd
  for _ in $(seq 1 100); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      echo "Slurm is up: node $host ($cpus CPUs, $mem MB), partition local, state in $state"
      echo "export SLURM_CONF=$state/slurm.conf"
      return 0
    fi
    sleep 0.2
  done
  sinfo 2>&1 || true
  tail -n 20 "$state/log/slurmctld.log" "$state/log/slurmd.log" 2>/dev/null || true
  die "the node did not come up within 20 s (logs in $state/log)"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) export SLURM_CONF="$state/slurm.conf"; sinfo; squeue ;;
  *) echo "usage: $0 start|stop|status [STATE_DIR]" >&2; exit 2 ;;
esac
