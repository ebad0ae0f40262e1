#!/bin/sh
# Write a new Alembic revision for what changed in idm/models/.
# Usage: scripts/new-migration.sh "what changed"   (or: make migration m="what changed")
#
# Autogenerate compares the models with a live database, so this builds a
# scratch SQLite database at the current head first: the result never depends
# on the state of anybody's development database. Review the file it writes.
set -eu
message=${1:?usage: $0 \"what changed\"}
bin=${VENV_BIN:-.venv/bin}
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# Debug only so that the default SECRET_KEY is accepted; nothing is served.
export FLASK_DEBUG=1 FLASK_SQLALCHEMY_DATABASE_URI="sqlite:///$scratch/scratch.sqlite"
unset IDM_SETTINGS
"$bin/flask" --app app db upgrade
"$bin/flask" --app app db migrate -m "$message"
