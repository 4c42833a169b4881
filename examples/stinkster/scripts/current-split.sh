#!/bin/sh
# Prints the new system's current share (0 before the first split).
cat "${STINKSTER_STATE_DIR:-state}/traffic-split" 2>/dev/null || echo 0
