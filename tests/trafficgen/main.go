// Command trafficgen makes deterministic test traffic for pakon's network lab:
// an authoritative DNS server, a web server (HTTP, HTTPS, UDP echo, QUIC
// sink) and a client that drives them with exact payload sizes, plus small
// helpers (a DHCP client, turning off checksum offload). Every subcommand
// prints what it did as JSON lines on stdout so tests can compare it with
// what Suricata saw.
//
// Usage:
//
//	trafficgen dns-server -listen 198.51.100.53:53 -zone zone.txt -rr 'a.test 60 A 203.0.113.1'
//	trafficgen web-server -cn www.example.test -http :80 -https :443 -udp :5000 -quic :443
//	trafficgen client -dns 198.51.100.53 https://www.example.test/bytes/5000 …
//	trafficgen dhcp -iface lan0 -hostname laptop
//	trafficgen txcsum-off IFACE…
//
// The servers print {"event":"ready",…} once they listen and run until
// SIGINT or SIGTERM. See client.go for the step syntax.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "dns-server":
		err = runDNSServer(ctx, args)
	case "web-server":
		err = runWebServer(ctx, args)
	case "client":
		err = runClient(ctx, args)
	case "dhcp":
		err = runDHCP(ctx, args)
	case "txcsum-off":
		err = runTxCsumOff(args)
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "trafficgen %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: trafficgen dns-server|web-server|client|dhcp|txcsum-off [flags] [args]")
}

// out serialises JSON lines from concurrent server goroutines.
var out = struct {
	sync.Mutex
	enc *json.Encoder
}{enc: json.NewEncoder(os.Stdout)}

// emit writes v as one JSON line on stdout.
func emit(v any) {
	out.Lock()
	defer out.Unlock()
	if err := out.enc.Encode(v); err != nil {
		fmt.Fprintf(os.Stderr, "trafficgen: write stdout: %v\n", err)
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
