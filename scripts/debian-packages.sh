#!/bin/sh
# Install the Debian packages the tests drive, when missing.
# Arguments: command=package pairs, e.g. nginx=nginx supervisord=supervisor.
# As root: one `apt-get update`, then one `apt-get install` for what is missing.
# Otherwise: say what is missing; the tests that need it fail and say why.
# Debian keeps PostgreSQL's server programs (initdb, pg_ctl) off PATH.
installed() {
    command -v "$1" >/dev/null 2>&1 && return 0
    for path in /usr/sbin/"$1" /usr/lib/postgresql/*/bin/"$1"; do
        [ -x "$path" ] && return 0
    done
    return 1
}
missing=""
for pair in "$@"; do
    command=${pair%%=*}
    package=${pair#*=}
    installed "$command" || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "debian-packages: SKIPPED installing:$missing (not root)."
    echo "debian-packages: run 'sudo apt-get install$missing'; until then the tests that need them fail."
    exit 0
fi
echo "debian-packages: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing
