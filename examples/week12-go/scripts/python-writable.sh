#!/bin/sh
# Stands in for taking the Python app out of read-only mode once it serves everything again.
set -eu
mkdir -p "${WEEK12_STATE_DIR:-state}"
echo "python writable: ${CUTOVER_ROLLBACK_REASON:-manual}" >> "${WEEK12_STATE_DIR:-state}/rollbacks"
