#!/bin/sh
# Stands in for the team's full-rollback.sh (quick rollback, configurations restored, legacy
# services re-enabled).
set -eu
mkdir -p "${STINKSTER_STATE_DIR:-state}"
echo "full rollback" >> "${STINKSTER_STATE_DIR:-state}/rollbacks"
