#!/bin/sh
# Stands in for the team's quick-rollback.sh (revert traffic, stop the new services).
set -eu
mkdir -p "${STINKSTER_STATE_DIR:-state}"
echo "quick rollback" >> "${STINKSTER_STATE_DIR:-state}/rollbacks"
