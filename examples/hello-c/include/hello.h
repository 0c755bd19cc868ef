/*
 * hello.h - the greeter's interface: what main.c asks greet.c for.
 *
 * Everything here is decided at compile time: the version comes from the
 * build (-DHELLO_VERSION="1.2.3") and the OS/architecture from the
 * compiler's predefined macros, so a cross-compiled binary reports the
 * target it was built for, not the machine that built it.
 */
#ifndef HELLO_H
#define HELLO_H

#include <stddef.h>

/* Lets a plain `cc -Iinclude src/main.c src/greet.c` build too. */
#ifndef HELLO_VERSION
#define HELLO_VERSION "dev"
#endif

/* The release version, e.g. "1.2.3". */
const char *hello_version(void);

/* The target OS in Go's spelling (GOOS): "linux", "windows", "darwin", ... */
const char *hello_os(void);

/* The target architecture in Go's spelling (GOARCH): "amd64", "386", ... */
const char *hello_arch(void);

/*
 * Writes "hello <version> (<os>/<arch>)" into buf (always NUL-terminated
 * when size > 0). Returns the length the full greeting needs, as snprintf
 * does, so a result >= size means it was cut short.
 */
int hello_greeting(char *buf, size_t size);

#endif /* HELLO_H */
