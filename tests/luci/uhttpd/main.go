// Command uhttpd serves luci-app-pakon with the LuCI stand-in for manual
// work in a browser: a ubus broker on -ubus, rpcd's uci and session
// objects over -config, and HTTP on -listen. Start pakon with
// `option socket` in its ubus section pointing at the broker.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/pakon/pakon/tests/luci"
)

func main() {
	socket := flag.String("ubus", "/tmp/pakon-luci-ubus.sock", "ubus broker `socket` to create")
	config := flag.String("config", "/etc/config", "uci config `dir`")
	listen := flag.String("listen", "127.0.0.1:8080", "HTTP `address`")
	readOnly := flag.Bool("read-only", false, "grant only the ACL's read permissions")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	h, err := luci.Start(ctx, luci.Options{Socket: *socket, ConfigDir: *config, Listen: *listen, ReadOnly: *readOnly, Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "uhttpd:", err)
		os.Exit(1)
	}
	fmt.Printf("serving %s/cgi-bin/luci/admin/status/pakon (ubus %s)\n", h.URL(), *socket)
	<-ctx.Done()
	if err := h.Close(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "uhttpd:", err)
		os.Exit(1)
	}
}
