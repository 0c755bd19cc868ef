/*
 * main.c - the command line: `hello` prints the greeting, `hello --version`
 * prints the version alone (what a release check or a package manager reads).
 * The words themselves come from greet.c.
 */
#include <stdio.h>
#include <string.h>

#include "hello.h"

static const char usage[] = "usage: hello [--version | --help]\n";

int main(int argc, char **argv)
{
	char greeting[256];

	if (argc > 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (argc == 2) {
		if (strcmp(argv[1], "--version") == 0) {
			puts(hello_version());
		} else if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			fputs(usage, stdout);
		} else {
			fprintf(stderr, "hello: unknown argument '%s'\n%s", argv[1], usage);
			return 2;
		}
	} else {
		/* A version too long for the buffer is cut, never overrun. */
		if (hello_greeting(greeting, sizeof greeting) < 0) {
			fputs("hello: cannot format the greeting\n", stderr);
			return 1;
		}
		puts(greeting);
	}
	/* A full disk or closed pipe shows up here, not as a silent success. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fputs("hello: cannot write to standard output\n", stderr);
		return 1;
	}
	return 0;
}
