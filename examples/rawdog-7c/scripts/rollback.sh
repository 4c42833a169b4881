#!/bin/sh
# Stands in for tooling/cutover/rollback.ts (blue takes every request again, green is kept for
# the post-mortem); the gate has already moved traffic back before this runs.
set -eu
mkdir -p "${RAWDOG_STATE_DIR:-state}"
echo "rollback: ${CUTOVER_ROLLBACK_REASON:-manual}" >> "${RAWDOG_STATE_DIR:-state}/rollbacks"
