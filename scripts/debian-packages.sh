#!/bin/sh
# Install the Debian packages the tests drive, when missing.
# Arguments: command=package pairs, e.g. nginx=nginx supervisord=supervisor.
# As root: one `apt-get update`, then one `apt-get install` for what is missing.
# Otherwise: say what is missing; the tests that need it skip and say why.
missing=""
for pair in "$@"; do
    command=${pair%%=*}
    package=${pair#*=}
    if ! command -v "$command" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$command" ]; then
        missing="$missing $package"
    fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "debian-packages: SKIPPED installing:$missing (not root)."
    echo "debian-packages: run 'sudo apt-get install$missing'; until then the tests that need them are skipped."
    exit 0
fi
echo "debian-packages: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing
