#!/bin/sh
# The main demo: what evkit can do today. Each architecture gets its own
# folder under examples/ as the programs arrive; this runs them in turn.
# Everything happens in a temporary state file: your own is not touched.
set -e
here=$(cd "$(dirname "$0")" && pwd)
PATH="$here/../bin:$PATH"
export PATH
for d in "$here"/*/; do
	[ -x "$d/run.sh" ] || continue
	echo "== ${d%/}" | sed "s|$here/||"
	"$d/run.sh"
	echo
done
