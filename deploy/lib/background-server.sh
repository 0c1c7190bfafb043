# shellcheck shell=sh
# One server in the background with a PID file: what deploy/scrapyd-server and deploy/datasette-server
# share. The caller sets these, then calls `server_control ACTION COMMAND [ARG...]`:
#   project_dir   the project folder: the PID file is data/NAME.pid, the server's output data/NAME.log
#   server_name   scrapyd, datasette: names those files
# The PID file holds the server's PID and its start time (`PID START`): after a reboot, or once the
# server is gone, the PID may belong to another program, which is ours only if it started when ours
# did. A PID file without a start time (an older version's) names no process we can vouch for.
#   server_url    answers HTTP once the server listens (any status: 401 behind basic auth counts)
#   server_dir    the working directory the server runs in
# ACTION: start (in the background; waits until server_url answers), stop (TERM, then KILL after
# ORSTATS_STOP_TIMEOUT seconds, default 15), status, run (in the foreground, no PID file: systemd).
# ORSTATS_START_TIMEOUT (default 30) is how long start waits for the first answer.
#
# Exit codes (those of LSB init scripts): 0 done / running; 1 failed; 2 usage; 3 not running
# (status); 4 running but not answering (status); 6 not configured (the caller's refusals).

# say MESSAGE: one line, prefixed with the server's name.
say() {
  echo "$server_name: $*"
}

# refuse MESSAGE: the caller's configuration cannot be served; nothing was started.
refuse() {
  echo "$server_name: refusing to start: $*" >&2
  exit 6
}

# server_tool NAME: the project's .venv/bin/NAME (the README's install), else NAME from PATH.
server_tool() {
  if [ -x "$project_dir/.venv/bin/$1" ]; then
    echo "$project_dir/.venv/bin/$1"
  elif command -v "$1" >/dev/null 2>&1; then
    command -v "$1"
  else
    echo "$server_name: '$1' is neither in $project_dir/.venv/bin nor on PATH (README: install)" >&2
    exit 1
  fi
}

# alive PID: the process exists and has not exited. An exited child whose parent never reaps it (a
# container's init may not) stays a zombie (Z): it holds no port and counts as gone, but only once
# its other threads are gone too (l: they may still be closing its files, the listening socket too).
alive() {
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  case "$state" in *l*) ;; Z*) return 1 ;; esac
}

# start_time PID: when the process started, exactly: field 22 of /proc/PID/stat (clock ticks since
# boot; the fields are counted after the command name, which may hold spaces and parentheses), else
# (no /proc) what ps says to the second. Fails when there is no such process.
start_time() {
  if [ -r "/proc/$1/stat" ]; then
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    # shellcheck disable=SC2086 # split on purpose: the fields after the command name
    set -- ${stat##*) }
    shift 19
    echo "$1"
  else
    ps -o lstart= -p "$1" 2>/dev/null | tr -s ' ' '_' | grep . || return 1
  fi
}

# server_pid: prints the PID of the running server from the PID file; fails when there is none, or
# when the process holding that PID did not start when ours did (not ours).
server_pid() {
  [ -f "$pid_file" ] || return 1
  read -r pid started <"$pid_file" || [ -n "${pid:-}" ] || return 1
  case "$pid" in '' | *[!0-9]*) return 1 ;; esac
  [ -n "${started:-}" ] || return 1
  alive "$pid" && [ "$(start_time "$pid")" = "$started" ] && echo "$pid"
}

# answers: something answers HTTP at server_url (never through a proxy).
answers() {
  curl --silent --output /dev/null --max-time 2 --noproxy '*' "$server_url"
}

# wait_gone PID SECONDS: at least SECONDS (counted in steps of 0.2 s, so never less).
wait_gone() {
  steps=$(($2 * 5))
  while alive "$1"; do
    [ "$steps" -gt 0 ] || return 1
    steps=$((steps - 1))
    sleep 0.2
  done
}

server_start() {
  if pid=$(server_pid); then
    say "already running (PID $pid, $pid_file)" >&2
    return 1
  fi
  rm -f "$pid_file"  # stale: its process is gone
  if answers; then
    say "not started: something else already answers at $server_url" >&2
    return 1
  fi
  mkdir -p "$(dirname "$pid_file")"
  cd "$server_dir" || return 1
  # A simple command in the background: $! is the server itself (nohup execs it), with no shell in
  # between; its output goes to the log, so it holds none of the caller's terminal or pipes.
  nohup "$@" >>"$log_file" 2>&1 </dev/null &
  pid=$!
  echo "$pid $(start_time "$pid")" >"$pid_file"
  deadline=$(($(date +%s) + ${ORSTATS_START_TIMEOUT:-30}))
  until answers; do
    if ! alive "$pid"; then
      rm -f "$pid_file"
      say "exited before answering at $server_url; the end of $log_file:" >&2
      tail -n 20 "$log_file" >&2
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      say "no answer at $server_url after ${ORSTATS_START_TIMEOUT:-30} s (ORSTATS_START_TIMEOUT); stopping it" >&2
      server_stop >&2
      return 1
    fi
    sleep 0.2
  done
  say "started (PID $pid) at $server_url; log $log_file"
}

server_stop() {
  if ! pid=$(server_pid); then
    if [ -f "$pid_file" ]; then
      rm -f "$pid_file"
      say "not running (removed the stale $pid_file)"
    else
      say "not running"
    fi
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" "${ORSTATS_STOP_TIMEOUT:-15}"; then
    say "still running ${ORSTATS_STOP_TIMEOUT:-15} s after TERM (ORSTATS_STOP_TIMEOUT): sending KILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 5; then
      say "PID $pid survived KILL" >&2
      return 1
    fi
  fi
  rm -f "$pid_file"
  say "stopped (PID $pid)"
}

server_status() {
  if pid=$(server_pid); then
    if answers; then
      say "running (PID $pid) at $server_url"
      return 0
    fi
    say "running (PID $pid) but not answering at $server_url"
    return 4
  fi
  if [ -f "$pid_file" ]; then
    say "not running (stale $pid_file: its process is gone)"
    return 1
  fi
  say "not running"
  return 3
}

# server_control ACTION COMMAND [ARG...]
server_control() {
  action=$1
  shift
  pid_file="$project_dir/data/$server_name.pid"
  log_file="$project_dir/data/$server_name.log"
  case "$action" in
    start) server_start "$@" ;;
    stop) server_stop ;;
    status) server_status ;;
    run) cd "$server_dir" && exec "$@" ;;
    *) echo "usage: $0 [--env FILE] start|stop|status|run" >&2; return 2 ;;
  esac
}
