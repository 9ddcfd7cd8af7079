#!/bin/sh
# The benchmark's floor for a first apply (bench/run.sh): only the package
# work of the workload, with no tool around it — what apt itself costs on a
# fresh host. Every tool's first apply does at least this.
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q ufw cron rsync jq
