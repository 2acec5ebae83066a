#!/usr/bin/env bash
# The VM validation tier (tests/vm): real QEMU boots, TCG on these machines.
exec "$(dirname "$0")/../vm/run.sh" "$@"
