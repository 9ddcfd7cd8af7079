#!/bin/sh
# Stop and disable the docker service and its socket (the socket would
# start it again on the first client). Prints nothing.
systemctl stop docker.socket 2>/dev/null || true
systemctl disable docker.socket 2>/dev/null || true
systemctl stop docker.service
systemctl disable docker.service
