# docker/hello-scratch.Dockerfile - the example app (examples/hello-go) as an
# image holding nothing but its binary. matrix puts the static `hello` for
# the image's platform at the root of the build context.
#
# Only FROM scratch + COPY + ENTRYPOINT, so matrix can also assemble it
# without an engine (one layer with /hello, a config with the entrypoint).
# No build args are used; an engine given VERSION etc. warns that they were
# not consumed, which is harmless.
#
# COPY must stay the first step: the legacy builder (daemon 20.10) keys its
# cache on the parent image, and every FROM scratch build has the same empty
# parent whatever --platform says. A metadata step (ARG, LABEL) first would
# be taken from the cache of a build for another platform, and the COPY on
# top of it then fails with "does not match the specified platform". The
# COPY's cache key holds the binary's checksum, which differs per platform.
FROM scratch
COPY hello /hello
ENTRYPOINT ["/hello"]
