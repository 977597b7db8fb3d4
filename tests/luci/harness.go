package luci

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"

	"github.com/pakon/pakon/src/ubus"
	"github.com/pakon/pakon/src/ubus/ubustest"
)

// SessionID is the rpcd session id the stand-in page uses.
const SessionID = "0123456789abcdef0123456789abcdef"

// Root is the repository root, found from this file's location.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Options configure a Harness.
type Options struct {
	// Socket is where the ubus broker listens.
	Socket string
	// ConfigDir holds the uci config files (pakon).
	ConfigDir string
	// Listen is the HTTP address; "" means 127.0.0.1:0.
	Listen string
	// ReadOnly grants the session only the ACL's read permissions.
	ReadOnly bool
	Logger   *slog.Logger
}

// Harness is a running broker, rpcd stand-in objects and HTTP server.
// Lifecycle: Start → URL/Client → Close.
type Harness struct {
	Broker *ubustest.Broker
	Client *ubus.Client
	UCI    *UCI
	ACL    *ACL
	srv    *http.Server
	ln     net.Listener
	done   chan error
}

// AppDir is luci-app-pakon in the repository.
func AppDir() string { return filepath.Join(Root(), "luci-app-pakon") }

// Start runs the broker on opts.Socket, registers uci and session and
// serves HTTP.
func Start(ctx context.Context, opts Options) (*Harness, error) {
	app := AppDir()
	acl, err := LoadACL(filepath.Join(app, "root/usr/share/rpcd/acl.d/luci-app-pakon.json"))
	if err != nil {
		return nil, err
	}
	acl.ReadOnly = opts.ReadOnly
	menu, err := LoadMenu(filepath.Join(app, "root/usr/share/luci/menu.d/luci-app-pakon.json"))
	if err != nil {
		return nil, err
	}
	h := &Harness{Broker: ubustest.NewBroker(opts.Socket), ACL: acl, UCI: &UCI{Dir: opts.ConfigDir}, done: make(chan error, 1)}
	if err := h.Broker.Start(); err != nil {
		return nil, fmt.Errorf("start broker: %w", err)
	}
	h.Client = ubus.New(ubus.Options{Path: opts.Socket, Logger: opts.Logger})
	if err := h.Client.AddObject(ctx, h.UCI.Object()); err != nil {
		h.Close(ctx)
		return nil, err
	}
	if err := h.Client.AddObject(ctx, Session(acl)); err != nil {
		h.Close(ctx)
		return nil, err
	}
	if err := h.Client.Open(ctx); err != nil {
		h.Broker.Stop()
		return nil, fmt.Errorf("open ubus: %w", err)
	}
	listen := opts.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	h.ln, err = net.Listen("tcp", listen)
	if err != nil {
		h.Close(ctx)
		return nil, fmt.Errorf("listen: %w", err)
	}
	h.srv = &http.Server{Handler: &Server{
		RPC:       &RPC{Caller: h.Client, Session: SessionID, ACL: acl},
		Resources: []string{filepath.Join(app, "htdocs"), filepath.Join(Root(), "tests/luci/www")},
		Menu:      menu,
	}}
	go func() { h.done <- h.srv.Serve(h.ln) }()
	return h, nil
}

// URL is the server's base URL.
func (h *Harness) URL() string { return "http://" + h.ln.Addr().String() }

// Close stops the server, the client and the broker.
func (h *Harness) Close(ctx context.Context) error {
	var errs []error
	if h.srv != nil {
		errs = append(errs, h.srv.Shutdown(ctx))
		if err := <-h.done; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if h.Client != nil {
		errs = append(errs, h.Client.Close(ctx))
	}
	h.Broker.Stop()
	return errors.Join(errs...)
}
