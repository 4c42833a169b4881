#!/bin/sh
# Stands in for migration/scripts/update_traffic_split.sh <percentage> <user>: the new
# system's weight in nginx's upstream, and who set it.
set -eu
mkdir -p "${LEKIWI_STATE_DIR:-state}"
echo "$1 $2" > "${LEKIWI_STATE_DIR:-state}/traffic-split"
