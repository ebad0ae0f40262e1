#!/bin/sh
# Replace static/swagger-ui/ with another release of swagger-ui-dist from npm.
# The viewer of GET /docs is shipped in the repository: no CDN, nothing
# fetched when the service runs. Usage: sh scripts/update-swagger-ui.sh 5.35.0
set -eu
version=${1:?usage: $0 VERSION}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack -q "swagger-ui-dist@$version" >/dev/null
tar xzf "swagger-ui-dist-$version.tgz"
target="$here/static/swagger-ui"
for file in swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt; do
    cp "package/$file" "$target/$file"
done
# No source maps are shipped: drop the comments that point to them.
sed -i 's#//\# sourceMappingURL=.*##; s#/\*\# sourceMappingURL=.*\*/##' "$target/swagger-ui-bundle.js" "$target/swagger-ui.css"
printf 'swagger-ui-dist %s from the npm registry (Apache-2.0, see LICENSE and NOTICE).\nUpdate: sh scripts/update-swagger-ui.sh <version>\n' "$version" > "$target/VERSION"
echo "static/swagger-ui is swagger-ui-dist $version"
