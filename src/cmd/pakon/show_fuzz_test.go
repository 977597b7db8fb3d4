package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

// FuzzShowParams runs `pakon show`'s flag parsing and parameter checks on
// arbitrary command lines (arguments separated by newlines). They must
// never panic, and parameters they accept must be sane: no negative limit
// or offset, no end before the start, ports within 0-65535.
func FuzzShowParams(f *testing.F) {
	for _, s := range []string{
		"-s\n-1h\n-e\nnow",
		"-A\n-n\n10\n--offset\n5\n--sort\n-bytes",
		"-D\n-j",
		"--top\n5\n--by\ndevice\n--metric\ntime",
		"-m\n02:00:00:00:00:0a\n-H\nexample.com\n-p\nhttps\n-p\n8080",
		"--proto\ntcp\n--app\ntls\n--active\n--no-filter",
		"-s\n14-11-2023\n-e\n13-11-2023",
		"-n\n-1", "--offset\n-3", "--top\n-1", "-A\n-D", "-j\n--csv",
		"-p\n70000", "-p\nx'; DROP TABLE flows; --", "-s\n@1e12", "-H\n' OR 1=1 --",
		"extra", "--limit=5", "-n", "",
	} {
		f.Add(s)
	}
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, cmdline string) {
		var args []string
		if cmdline != "" {
			args = strings.Split(cmdline, "\n")
		}
		for _, a := range args {
			// -h prints the usage to stdout; it is a flag package feature,
			// not pakon's parsing.
			switch strings.TrimLeft(a, "-") {
			case "h", "help":
				return
			}
		}
		c := &ShowCommand{stdout: io.Discard, stderr: io.Discard, now: func() time.Time { return now }, loc: time.UTC}
		var o showOptions
		set := c.flags(&o)
		if err := parseFlags(set, args); err != nil {
			return
		}
		p, err := c.params(&o)
		if err != nil {
			if !strings.Contains(err.Error(), ":") && !strings.Contains(err.Error(), "exclude") {
				t.Fatalf("error %q names no option", err)
			}
			return
		}
		if p.Limit < 0 || p.Offset < 0 {
			t.Fatalf("accepted limit %d offset %d", p.Limit, p.Offset)
		}
		if !p.Start.IsZero() && !p.End.IsZero() && p.End.Before(p.Start) {
			t.Fatalf("accepted end %v before start %v", p.End, p.Start)
		}
		for _, port := range p.DestPorts {
			if port < 0 || port > 65535 {
				t.Fatalf("accepted port %d", port)
			}
		}
	})
}
