#!/bin/sh
# Stands in for the runbook's "Immediate Rollback": npm run stop, USE_SMART_STREAMING=false,
# npm run start:legacy, npm run monitors:verify:legacy.
set -eu
mkdir -p "${SMART_STREAMING_STATE_DIR:-state}"
echo "USE_SMART_STREAMING=false" > "${SMART_STREAMING_STATE_DIR:-state}/rollback.env"
