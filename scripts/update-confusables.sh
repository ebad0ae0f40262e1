#!/bin/sh
# Replace idm/confusables.txt with Unicode's latest confusables.txt (UTS #39).
# Usage: scripts/update-confusables.sh   (needs curl and network access)
#
# The file is Unicode's own, kept verbatim so that it can be compared with
# the original. A new table can change validation.username_key of existing
# usernames: ship it with a migration that recomputes users.username_key as
# revision 79f102aab640 fills it (and stops on look-alikes), and run make test.
set -eu
cd "$(dirname "$0")/.."
url=https://www.unicode.org/Public/security/latest/confusables.txt
scratch=$(mktemp)
trap 'rm -f "$scratch"' EXIT
curl -fsSL "$url" -o "$scratch"
head -1 "$scratch" | grep -q "confusables.txt" || { echo "not a confusables.txt: $url" >&2; exit 1; }
mv "$scratch" idm/confusables.txt
trap - EXIT
grep -m1 "^# Version:" idm/confusables.txt
echo "now write the migration that recomputes users.username_key (see above)"
