#!/bin/sh
# Finish the dpkg runs an interruption left half-way (dpkg --configure -a),
# keeping locally modified configuration files. Prints dpkg's output.
export DEBIAN_FRONTEND=noninteractive
dpkg --force-confdef --force-confold --configure -a
