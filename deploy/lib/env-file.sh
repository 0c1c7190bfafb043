# shellcheck shell=sh
# `--env FILE` of the deploy/ scripts: KEY=value lines (deploy/scrapyd.env.example, the file systemd's
# EnvironmentFile reads too), exported to everything the script starts.

# load_env_file FILE PROGRAM: PROGRAM names the script in the one-line error.
load_env_file() {
  [ -r "$1" ] || { echo "$2: cannot read env file '$1'" >&2; exit 2; }
  set -a
  # shellcheck source=/dev/null
  case "$1" in */*) . "$1" ;; *) . "./$1" ;; esac  # `. name` would search PATH
  set +a
}
