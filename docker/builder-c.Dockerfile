# docker/builder-c.Dockerfile - the image `matrix build` runs C build jobs in
# (examples/hello-c): make and Debian's GNU compilers for the gcc-cross
# preset's targets, the same packages scripts/install-toolchains.sh puts on
# a host, so a binary built in here has the same bytes as one built there.
#
#   BASE  the Debian image to start from: debian:bookworm-slim from Docker
#         Hub, or matrix-base/debian:bookworm, which scripts/
#         setup-containers.sh makes where no registry is reachable.
#
# An amd64 image: gcc is the native (linux/amd64) compiler there. The zig
# targets (macOS, musl) are not built in containers, so zig is not here.
# The libc6-dev packages are only Recommends of the compilers, and the
# Makefile links statically, so they are named.
ARG BASE=debian:bookworm-slim
FROM ${BASE}

RUN apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		make \
		gcc libc6-dev \
		gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
		gcc-i686-linux-gnu libc6-dev-i386-cross \
		gcc-powerpc64le-linux-gnu libc6-dev-ppc64el-cross \
		gcc-s390x-linux-gnu libc6-dev-s390x-cross \
		gcc-riscv64-linux-gnu libc6-dev-riscv64-cross \
		gcc-arm-linux-gnueabihf libc6-dev-armhf-cross \
		gcc-mingw-w64-x86-64-win32 \
		gcc-mingw-w64-i686-win32 \
	&& rm -rf /var/lib/apt/lists/* \
	&& for cc in gcc aarch64-linux-gnu-gcc i686-linux-gnu-gcc powerpc64le-linux-gnu-gcc \
		s390x-linux-gnu-gcc riscv64-linux-gnu-gcc arm-linux-gnueabihf-gcc \
		x86_64-w64-mingw32-gcc i686-w64-mingw32-gcc; do \
		printf '%s: %s\n' "$cc" "$("$cc" -dumpmachine)" || exit 1; \
	done

LABEL org.opencontainers.image.description="matrix builder: make and Debian's GNU cross compilers"
