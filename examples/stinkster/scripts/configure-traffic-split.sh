#!/bin/sh
# Stands in for the team's configure-traffic-split.sh: records the new system's share.
set -eu
mkdir -p "${STINKSTER_STATE_DIR:-state}"
echo "$1" > "${STINKSTER_STATE_DIR:-state}/traffic-split"
