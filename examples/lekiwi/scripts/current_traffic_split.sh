#!/bin/sh
# Prints the new system's weight ("grep weight= /etc/nginx/conf.d/upstream.conf").
set -eu
cut -d' ' -f1 "${LEKIWI_STATE_DIR:-state}/traffic-split" 2>/dev/null || echo 0
