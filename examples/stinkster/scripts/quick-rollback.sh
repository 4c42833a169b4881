#!/bin/sh
# Stands in for the team's quick-rollback.sh (revert traffic, stop the new services). It fails,
# as a quick rollback can, when state/quick-rollback-fails exists: the full one runs next.
set -eu
mkdir -p "${STINKSTER_STATE_DIR:-state}"
if [ -e "${STINKSTER_STATE_DIR:-state}/quick-rollback-fails" ]; then
    echo "quick rollback: the new services did not stop" >&2
    exit 1
fi
echo "quick rollback" >> "${STINKSTER_STATE_DIR:-state}/rollbacks"
