package main

import (
	"fmt"
	"strings"
)

// BuildLine is what hello prints with no arguments: the program name, its
// version and the platform it was built for, e.g. "hello 1.0.0 (linux/amd64)".
func BuildLine(version, goos, goarch string) string {
	return fmt.Sprintf("hello %s (%s/%s)", version, goos, goarch)
}

// Greet says hello to name; a blank name greets the world.
func Greet(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "world"
	}
	return "hello, " + name + "!"
}
