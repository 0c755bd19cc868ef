// Command hello is the example program that matrix releases for every
// OS/architecture pair in matrix.toml. It uses only the standard library so
// that `go build` needs no network and gives the same bytes on every run.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
)

// version is replaced at link time by matrix:
//
//	go build -ldflags '-X main.version=1.2.3'
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

// run is main without the process exit, so its exit codes are easy to read.
func run(args []string) int {
	fs := flag.NewFlagSet("hello", flag.ContinueOnError)
	showVersion := fs.Bool("version", false, "print the version and exit")
	name := fs.String("name", "", "greet NAME instead of printing the build line")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Println(version)
		return 0
	}
	if *name != "" {
		fmt.Println(Greet(*name))
		return 0
	}
	fmt.Println(BuildLine(version, runtime.GOOS, runtime.GOARCH))
	return 0
}
