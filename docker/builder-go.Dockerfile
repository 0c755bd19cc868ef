# docker/builder-go.Dockerfile - the image `matrix build` runs Go build jobs
# in (examples/hello-go). Debian's golang-go, so the Go toolchain is the one
# a Debian host with golang-go has, and a binary built in here has the same
# bytes as one built on such a host with the same flags.
#
#   BASE  the Debian image to start from: debian:bookworm-slim from Docker
#         Hub, or matrix-base/debian:bookworm, which scripts/
#         setup-containers.sh makes where no registry is reachable.
#
# No C compiler: the jobs build with CGO_ENABLED=0. matrix runs it as the
# calling user with HOME=/tmp and GOCACHE under /tmp, so nothing here needs
# to be writable by a particular uid.
ARG BASE=debian:bookworm-slim
FROM ${BASE}

# ca-certificates and git: `go` fetches modules over https and from VCS.
# The package lists go in the same layer, so the image keeps no apt cache.
RUN apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		ca-certificates \
		git \
		golang-go \
	&& rm -rf /var/lib/apt/lists/* \
	&& go version

LABEL org.opencontainers.image.description="matrix builder: Debian golang-go, git, ca-certificates"
