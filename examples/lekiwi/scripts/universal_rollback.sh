#!/bin/sh
# Stands in for migration/scripts/universal_rollback.sh <phase> "<reason>".
set -eu
mkdir -p "${LEKIWI_STATE_DIR:-state}"
echo "$1: ${2:-${CUTOVER_ROLLBACK_REASON:-manual}}" >> "${LEKIWI_STATE_DIR:-state}/rollbacks"
