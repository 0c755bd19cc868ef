/*
 * greet.c - works out what the greeting says: the version baked in by the
 * build and the target OS/architecture read from the compiler's predefined
 * macros. Names follow Go's GOOS/GOARCH, the names matrix's targets use.
 */
#include <stdio.h>

#include "hello.h"

#if defined(_WIN32)
#define HELLO_OS "windows"
#elif defined(__APPLE__) && defined(__MACH__)
#define HELLO_OS "darwin"
#elif defined(__ANDROID__)
/* Checked before __linux__, which Android also defines. */
#define HELLO_OS "android"
#elif defined(__linux__)
#define HELLO_OS "linux"
#elif defined(__FreeBSD__)
#define HELLO_OS "freebsd"
#elif defined(__OpenBSD__)
#define HELLO_OS "openbsd"
#elif defined(__NetBSD__)
#define HELLO_OS "netbsd"
#else
#define HELLO_OS "unknown"
#endif

#if defined(__x86_64__) || defined(_M_X64) || defined(_M_AMD64)
#define HELLO_ARCH "amd64"
#elif defined(__i386__) || defined(_M_IX86)
#define HELLO_ARCH "386"
#elif defined(__aarch64__) || defined(_M_ARM64)
#define HELLO_ARCH "arm64"
#elif defined(__arm__) || defined(_M_ARM)
#define HELLO_ARCH "arm"
#elif defined(__powerpc64__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HELLO_ARCH "ppc64le"
#elif defined(__powerpc64__)
#define HELLO_ARCH "ppc64"
#elif defined(__s390x__)
#define HELLO_ARCH "s390x"
#elif defined(__riscv) && defined(__riscv_xlen) && __riscv_xlen == 64
#define HELLO_ARCH "riscv64"
#elif defined(__loongarch64)
#define HELLO_ARCH "loong64"
#elif defined(__mips64) && defined(__MIPSEL__)
#define HELLO_ARCH "mips64le"
#elif defined(__mips64)
#define HELLO_ARCH "mips64"
#else
#define HELLO_ARCH "unknown"
#endif

const char *hello_version(void) { return HELLO_VERSION; }

const char *hello_os(void) { return HELLO_OS; }

const char *hello_arch(void) { return HELLO_ARCH; }

int hello_greeting(char *buf, size_t size)
{
	return snprintf(buf, size, "hello %s (%s/%s)", hello_version(), hello_os(), hello_arch());
}
