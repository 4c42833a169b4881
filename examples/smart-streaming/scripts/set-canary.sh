#!/bin/sh
# Stands in for "export SMART_STREAMING_CANARY=0.25 && npm run start": the share of monitors
# the smart pipeline runs, from the gate's {percent}.
set -eu
mkdir -p "${SMART_STREAMING_STATE_DIR:-state}"
echo "SMART_STREAMING_CANARY=$(echo "$1" | awk '{ print $1 / 100 }')" \
    > "${SMART_STREAMING_STATE_DIR:-state}/canary.env"
