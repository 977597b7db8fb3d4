package main

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxBody caps /bytes/N so a typo cannot fill memory or a capture.
const maxBody = 64 << 20

// filler writes n deterministic bytes.
func filler(w io.Writer, n int) (int, error) {
	const pattern = "pakon-lab-payload-0123456789abcdefghijklmnopqrstuvwxyz\n"
	chunk := []byte(strings.Repeat(pattern, 64))
	written := 0
	for written < n {
		k := min(len(chunk), n-written)
		m, err := w.Write(chunk[:k])
		written += m
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// handler serves GET/POST /bytes/N with an N-byte body; other paths get a
// short page. Request bodies are read and counted.
func handler(scheme string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, _ := io.Copy(io.Discard, r.Body)
		n := 64
		if rest, ok := strings.CutPrefix(r.URL.Path, "/bytes/"); ok {
			v, err := strconv.Atoi(rest)
			if err != nil || v < 0 || v > maxBody {
				http.Error(w, "bad size", http.StatusBadRequest)
				return
			}
			n = v
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.Header().Set("Server", "pakon-lab")
		written, err := filler(w, n)
		ev := map[string]any{"event": "http", "scheme": scheme, "client": r.RemoteAddr,
			"host": r.Host, "method": r.Method, "path": r.URL.Path, "body_received": in, "body_sent": written}
		if r.TLS != nil {
			ev["sni"] = r.TLS.ServerName
			ev["tls_version"] = tls.VersionName(r.TLS.Version)
		}
		if err != nil {
			ev["error"] = err.Error()
		}
		emit(ev)
	})
}

// udpEcho answers each datagram with as many bytes as its first four bytes
// (big-endian) ask for.
func udpEcho(c net.PacketConn) {
	buf := make([]byte, 65535)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		want := 0
		if n >= 4 {
			want = int(min(binary.BigEndian.Uint32(buf), 65507))
		}
		reply := make([]byte, want)
		copy(reply, buf[:n])
		if _, err := c.WriteTo(reply, from); err != nil {
			emit(map[string]any{"event": "udp-error", "client": from.String(), "error": err.Error()})
			continue
		}
		emit(map[string]any{"event": "udp", "client": from.String(), "received": n, "sent": want})
	}
}

// quicSink logs datagrams and never answers: enough for Suricata to parse
// a client Initial.
func quicSink(c net.PacketConn) {
	buf := make([]byte, 65535)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		emit(map[string]any{"event": "quic", "client": from.String(), "received": n})
	}
}

func runWebServer(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("web-server", flag.ContinueOnError)
	cn := fs.String("cn", "", "certificate subject CN for every TLS client (default: the client's SNI)")
	httpAddr := fs.String("http", ":80", "plain HTTP address, empty to disable")
	httpsAddr := fs.String("https", ":443", "HTTPS address, empty to disable")
	udpAddr := fs.String("udp", ":5000", "UDP echo address, empty to disable")
	quicAddr := fs.String("quic", ":443", "UDP address that swallows QUIC Initials, empty to disable")
	maxTLS := fs.String("tls-max", "1.3", "highest TLS version offered: 1.2 or 1.3")
	if err := fs.Parse(args); err != nil {
		return err
	}
	certs, err := newCertStore(*cn)
	if err != nil {
		return err
	}
	tlsMax := uint16(tls.VersionTLS13)
	if *maxTLS == "1.2" {
		tlsMax = tls.VersionTLS12
	}

	var (
		wg      sync.WaitGroup
		servers []*http.Server
		packets []net.PacketConn
		ready   = map[string]string{}
	)
	closeAll := func() {
		for _, s := range servers {
			s.Close()
		}
		for _, p := range packets {
			p.Close()
		}
		wg.Wait()
	}
	serve := func(addr, scheme string, tcfg *tls.Config) error {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen %s %s: %w", scheme, addr, err)
		}
		if tcfg != nil {
			l = tls.NewListener(l, tcfg)
		}
		s := &http.Server{Handler: handler(scheme), ReadHeaderTimeout: time.Minute, ErrorLog: nil}
		s.SetKeepAlivesEnabled(true)
		servers = append(servers, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				emit(map[string]any{"event": "error", "server": scheme, "error": err.Error()})
			}
		}()
		ready[scheme] = addr
		return nil
	}
	packet := func(addr, name string, fn func(net.PacketConn)) error {
		conns, err := listenUDPEach(addr)
		if err != nil {
			return fmt.Errorf("listen %s %s: %w", name, addr, err)
		}
		for _, c := range conns {
			packets = append(packets, c)
			wg.Add(1)
			go func() {
				defer wg.Done()
				fn(c)
			}()
		}
		ready[name] = addr
		return nil
	}
	if *httpAddr != "" {
		if err := serve(*httpAddr, "http", nil); err != nil {
			closeAll()
			return err
		}
	}
	if *httpsAddr != "" {
		tcfg := &tls.Config{GetCertificate: certs.get, MaxVersion: tlsMax, NextProtos: []string{"http/1.1"}}
		if err := serve(*httpsAddr, "https", tcfg); err != nil {
			closeAll()
			return err
		}
	}
	if *udpAddr != "" {
		if err := packet(*udpAddr, "udp", udpEcho); err != nil {
			closeAll()
			return err
		}
	}
	if *quicAddr != "" {
		if err := packet(*quicAddr, "quic", quicSink); err != nil {
			closeAll()
			return err
		}
	}
	emit(map[string]any{"event": "ready", "server": "web", "listen": ready})
	<-ctx.Done()
	closeAll()
	return nil
}

// listenUDPEach binds addr; without a host part it binds every local
// address separately, so each reply leaves from the address the request
// went to (a wildcard socket would answer from the route's source address,
// which the client's connected socket drops).
func listenUDPEach(addr string) ([]net.PacketConn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if host != "" {
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, err
		}
		return []net.PacketConn{c}, nil
	}
	ifAddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var conns []net.PacketConn
	for _, a := range ifAddrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		c, err := net.ListenPacket("udp", net.JoinHostPort(ipn.IP.String(), port))
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		conns = append(conns, c)
	}
	if len(conns) == 0 {
		return nil, errors.New("no local addresses")
	}
	return conns, nil
}
