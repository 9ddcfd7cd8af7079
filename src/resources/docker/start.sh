#!/bin/sh
# Enable and start the docker service. Prints nothing.
systemctl enable docker.service
systemctl start docker.service
