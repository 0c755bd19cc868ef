# docker/hello-busybox.Dockerfile - the example app (examples/hello-go) on
# busybox, so the image has a shell. matrix puts the static `hello` for the
# image's platform at the root of the build context.
#
#   BASE        busybox:1.36 from Docker Hub, or matrix-base/busybox:<arch>
#               (one tag per architecture), which scripts/setup-containers.sh
#               makes where no registry is reachable
#   VERSION     the release version; the RUN step checks the binary says it
#   COMMIT      the release commit, recorded in a label
#   TARGETOS, TARGETARCH   the image's platform. The legacy builder does not
#               set them itself, so matrix passes them; the RUN step checks
#               the binary was built for them.
#
# The RUN step runs the base's shell and the binary, so building for a
# foreign platform needs emulation (qemu-user-static, binfmt flag F). The
# greeting names the platform the binary was built for: an amd64 binary in
# an arm64 image would still run on an amd64 host, and only this catches it.
ARG BASE=busybox:1.36
FROM ${BASE}
ARG VERSION=
ARG COMMIT=
ARG TARGETOS=
ARG TARGETARCH=
COPY hello /usr/local/bin/hello
RUN v="$(hello --version)" && g="$(hello)" \
	&& echo "in $(uname -m): hello --version: $v; hello: $g" \
	&& { [ -z "$VERSION" ] || [ "$v" = "$VERSION" ] || { echo "want version $VERSION" >&2; exit 1; }; } \
	&& case "$g" in *"(${TARGETOS:-linux}/${TARGETARCH:-}"*) ;; *) echo "want a binary for ${TARGETOS:-linux}/$TARGETARCH" >&2; exit 1 ;; esac
LABEL org.opencontainers.image.version="$VERSION" \
	org.opencontainers.image.revision="$COMMIT"
ENTRYPOINT ["/usr/local/bin/hello"]
