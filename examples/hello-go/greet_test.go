package main

import "testing"

func TestBuildLine(t *testing.T) {
	cases := []struct {
		version, goos, goarch, want string
	}{
		{"dev", "linux", "amd64", "hello dev (linux/amd64)"},
		{"1.0.0", "windows", "386", "hello 1.0.0 (windows/386)"},
		{"0.1.0-SNAPSHOT-abc1234", "darwin", "arm64", "hello 0.1.0-SNAPSHOT-abc1234 (darwin/arm64)"},
	}
	for _, c := range cases {
		if got := BuildLine(c.version, c.goos, c.goarch); got != c.want {
			t.Errorf("BuildLine(%q, %q, %q) = %q, want %q", c.version, c.goos, c.goarch, got, c.want)
		}
	}
}

func TestGreet(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Ada", "hello, Ada!"},
		{"  Grace \n", "hello, Grace!"},
		{"", "hello, world!"},
		{"   ", "hello, world!"},
	}
	for _, c := range cases {
		if got := Greet(c.in); got != c.want {
			t.Errorf("Greet(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRunExitCodes(t *testing.T) {
	cases := []struct {
		args []string
		want int
	}{
		{nil, 0},
		{[]string{"--version"}, 0},
		{[]string{"--name", "Ada"}, 0},
		{[]string{"--no-such-flag"}, 2},
	}
	for _, c := range cases {
		if got := run(c.args); got != c.want {
			t.Errorf("run(%q) = %d, want %d", c.args, got, c.want)
		}
	}
}
