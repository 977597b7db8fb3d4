package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// A client step is a URL; the fragment carries client-side options, which
// never go on the wire:
//
//	dns://NAME#type=AAAA                 one query, nothing else
//	http://NAME[:PORT]/bytes/N           resolve, then GET N bytes (Host: NAME)
//	https://NAME[:PORT]/bytes/N          resolve, TLS with SNI NAME, then GET
//	udp://NAME:PORT#send=100&recv=300    datagram exchange with the echo server
//	quic://NAME[:PORT]                   one QUIC v1 Initial with SNI NAME
//
// NAME may be an IP literal: then there is no DNS query and no SNI.
// Options: af=4|6 (address family to resolve and use, default 4),
// ip=ADDR (connect there without DNS but keep NAME for SNI and Host),
// sni=NAME (override; "-" sends none), tls=1.2|1.3 (highest version),
// send=N (HTTP POST body or datagram size), recv=N (datagram reply size),
// count=N (requests on one connection, or datagrams), every=DUR (pause
// between them), hold=DUR (keep the connection open afterwards),
// lport=N (local port), ua=STRING (User-Agent), type=T (dns:// only).

// clientResult is the JSON line printed for each step. BytesSent and
// BytesReceived count transport payload (TCP stream bytes including TLS
// records and HTTP headers, or UDP payload); Body* count HTTP bodies.
type clientResult struct {
	Step          string      `json:"step"`
	Kind          string      `json:"kind"`
	Name          string      `json:"name,omitempty"`
	IP            string      `json:"ip,omitempty"`
	Port          int         `json:"port,omitempty"`
	Proto         string      `json:"proto,omitempty"`
	LocalIP       string      `json:"local_ip,omitempty"`
	LocalPort     int         `json:"local_port,omitempty"`
	SNI           string      `json:"sni,omitempty"`
	TLSVersion    string      `json:"tls_version,omitempty"`
	Status        int         `json:"status,omitempty"`
	Requests      int         `json:"requests,omitempty"`
	BytesSent     int64       `json:"bytes_sent"`
	BytesReceived int64       `json:"bytes_received"`
	BodySent      int64       `json:"body_sent,omitempty"`
	BodyReceived  int64       `json:"body_received,omitempty"`
	DNS           []dnsResult `json:"dns,omitempty"`
	Start         time.Time   `json:"start"`
	End           time.Time   `json:"end"`
	Error         string      `json:"error,omitempty"`
}

// dnsResult is one query the client made and what came back.
type dnsResult struct {
	Server    string `json:"server"`
	LocalPort int    `json:"local_port"`
	ID        uint16 `json:"id"`
	QName     string `json:"qname"`
	QType     string `json:"qtype"`
	Rcode     string `json:"rcode"`
	Answers   []rr   `json:"answers"`
}

// step is a parsed client step.
type step struct {
	raw  string
	kind string
	host string
	port int
	path string
	opt  url.Values
}

func parseStep(s string) (*step, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("step %q: %w", s, err)
	}
	opt, err := url.ParseQuery(u.Fragment)
	if err != nil {
		return nil, fmt.Errorf("step %q options: %w", s, err)
	}
	st := &step{raw: s, kind: u.Scheme, host: u.Hostname(), path: u.EscapedPath(), opt: opt}
	if u.RawQuery != "" {
		st.path += "?" + u.RawQuery
	}
	if st.path == "" {
		st.path = "/"
	}
	defPort := map[string]int{"dns": 53, "http": 80, "https": 443, "quic": 443}
	if _, ok := defPort[st.kind]; !ok && st.kind != "udp" {
		return nil, fmt.Errorf("step %q: unknown kind %q", s, st.kind)
	}
	st.port = defPort[st.kind]
	if p := u.Port(); p != "" {
		if st.port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("step %q: port: %w", s, err)
		}
	}
	if st.host == "" || st.port == 0 {
		return nil, fmt.Errorf("step %q: need a host and a port", s)
	}
	return st, nil
}

func (s *step) int(key string, def int) (int, error) {
	v := s.opt.Get(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("option %s: %w", key, err)
	}
	return n, nil
}

func (s *step) duration(key string) (time.Duration, error) {
	v := s.opt.Get(key)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("option %s: %w", key, err)
	}
	return d, nil
}

// client runs steps against one DNS server.
type client struct {
	dns     string // host:port, or "" when every step uses IPs
	timeout time.Duration
}

func runClient(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	dns := fs.String("dns", "", "DNS server address (port 53 unless given)")
	timeout := fs.Duration("timeout", 3*time.Second, "per-operation timeout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c := &client{timeout: *timeout}
	if *dns != "" {
		c.dns = *dns
		if _, _, err := net.SplitHostPort(*dns); err != nil {
			c.dns = net.JoinHostPort(strings.Trim(*dns, "[]"), "53")
		}
	}
	var steps []*step
	for _, a := range fs.Args() {
		st, err := parseStep(a)
		if err != nil {
			return err
		}
		steps = append(steps, st)
	}
	failed := 0
	for _, st := range steps {
		res := &clientResult{Step: st.raw, Kind: st.kind, Name: st.host, Port: st.port, Start: time.Now().UTC()}
		if err := c.run(ctx, st, res); err != nil {
			res.Error = err.Error()
			failed++
		}
		res.End = time.Now().UTC()
		emit(res)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d steps failed", failed, len(steps))
	}
	return nil
}

func (c *client) run(ctx context.Context, st *step, res *clientResult) error {
	if st.kind == "dns" {
		qt := st.opt.Get("type")
		if qt == "" {
			qt = "A"
		}
		t, err := parseType(qt)
		if err != nil {
			return err
		}
		// An error code is a fine answer to a bare query; the result has it.
		if _, err = c.query(ctx, st, t, res); errors.Is(err, errRcode) {
			return nil
		}
		return err
	}
	ip, err := c.target(ctx, st, res)
	if err != nil {
		return err
	}
	res.IP = ip.String()
	switch st.kind {
	case "http", "https":
		res.Proto = "tcp"
		return c.web(ctx, st, ip, res)
	case "udp":
		res.Proto = "udp"
		return c.udp(ctx, st, ip, res)
	case "quic":
		res.Proto = "udp"
		return c.quic(ctx, st, ip, res)
	}
	return fmt.Errorf("unknown kind %q", st.kind)
}

// target resolves the step's host unless it is an address or ip= is set.
func (c *client) target(ctx context.Context, st *step, res *clientResult) (netip.Addr, error) {
	if v := st.opt.Get("ip"); v != "" {
		return netip.ParseAddr(v)
	}
	if ip, err := netip.ParseAddr(st.host); err == nil {
		return ip, nil
	}
	qt := uint16(typeA)
	if st.opt.Get("af") == "6" {
		qt = typeAAAA
	}
	ans, err := c.query(ctx, st, qt, res)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range ans {
		if a.Type == typeName(qt) {
			return netip.ParseAddr(a.Data)
		}
	}
	return netip.Addr{}, fmt.Errorf("resolve %s: no %s record", st.host, typeName(qt))
}

// errRcode marks an answer that came back with an error code: final, not
// worth a retry.
var errRcode = errors.New("dns error response")

// query sends one question to the configured server, retrying twice when
// no answer comes.
func (c *client) query(ctx context.Context, st *step, qt uint16, res *clientResult) ([]rr, error) {
	if c.dns == "" {
		return nil, errors.New("no DNS server (-dns)")
	}
	for try := 0; ; try++ {
		ans, err := c.queryOnce(ctx, st.host, qt, res)
		if err == nil || errors.Is(err, errRcode) || try == 2 || ctx.Err() != nil {
			return ans, err
		}
	}
}

func (c *client) queryOnce(ctx context.Context, name string, qt uint16, res *clientResult) ([]rr, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", c.dns)
	if err != nil {
		return nil, fmt.Errorf("dial dns %s: %w", c.dns, err)
	}
	defer conn.Close()
	id := uint16(time.Now().UnixNano()>>10) ^ uint16(len(res.DNS)*7919)
	q := &dnsMsg{ID: id, Flags: 0x0100, QName: name, QType: qt}
	b, err := q.pack()
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(c.timeout))
	if _, err := conn.Write(b); err != nil {
		return nil, fmt.Errorf("send query: %w", err)
	}
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("query %s %s: %w", name, typeName(qt), err)
		}
		r, err := unpack(buf[:n])
		if err != nil || !r.Response || r.ID != id {
			continue
		}
		dr := dnsResult{Server: c.dns, LocalPort: conn.LocalAddr().(*net.UDPAddr).Port, ID: id,
			QName: canonical(name), QType: typeName(qt), Rcode: rcodeName(r.rcode()), Answers: r.Answers}
		if dr.Answers == nil {
			dr.Answers = []rr{}
		}
		res.DNS = append(res.DNS, dr)
		if r.rcode() != rcodeNoError {
			return nil, fmt.Errorf("query %s %s: %s: %w", name, typeName(qt), dr.Rcode, errRcode)
		}
		return r.Answers, nil
	}
}

// countConn counts the bytes that cross a connection.
type countConn struct {
	net.Conn
	sent, received int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.received += int64(n)
	return n, err
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.sent += int64(n)
	return n, err
}

func (c *client) dialer(st *step, ip netip.Addr, network string) (*net.Dialer, error) {
	lport, err := st.int("lport", 0)
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: c.timeout}
	if lport != 0 {
		if network == "tcp" {
			d.LocalAddr = &net.TCPAddr{Port: lport}
		} else {
			d.LocalAddr = &net.UDPAddr{Port: lport}
		}
	}
	return d, nil
}

func setLocal(res *clientResult, a net.Addr) {
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		res.LocalIP = ap.Addr().Unmap().String()
		res.LocalPort = int(ap.Port())
	}
}

// web does HTTP or HTTPS requests on one connection.
func (c *client) web(ctx context.Context, st *step, ip netip.Addr, res *clientResult) error {
	d, err := c.dialer(st, ip, "tcp")
	if err != nil {
		return err
	}
	count, err := st.int("count", 1)
	if err != nil {
		return err
	}
	send, err := st.int("send", -1)
	if err != nil {
		return err
	}
	every, err := st.duration("every")
	if err != nil {
		return err
	}
	hold, err := st.duration("hold")
	if err != nil {
		return err
	}
	raw, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(ip, uint16(st.port)).String())
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	cc := &countConn{Conn: raw}
	defer func() {
		res.BytesSent, res.BytesReceived = cc.sent, cc.received
	}()
	defer raw.Close()
	setLocal(res, raw.LocalAddr())
	var conn net.Conn = cc
	peerClosed := false
	if st.kind == "https" {
		sni := st.host
		if v := st.opt.Get("sni"); v != "" {
			sni = v
		}
		if sni == "-" || net.ParseIP(sni) != nil {
			sni = ""
		}
		tcfg := &tls.Config{ServerName: sni, InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}
		if st.opt.Get("tls") == "1.2" {
			tcfg.MaxVersion = tls.VersionTLS12
		}
		tc := tls.Client(cc, tcfg)
		tc.SetDeadline(time.Now().Add(c.timeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("tls handshake: %w", err)
		}
		defer func() {
			if !peerClosed {
				tc.Close() // close_notify before the TCP FIN
			}
		}()
		res.SNI = sni
		res.TLSVersion = tls.VersionName(tc.ConnectionState().Version)
		conn = tc
	}
	ua := st.opt.Get("ua")
	if ua == "" {
		ua = "pakon-trafficgen/1"
	}
	br := bufio.NewReader(conn)
	for i := 0; i < count; i++ {
		if i > 0 && every > 0 {
			if err := sleep(ctx, every); err != nil {
				return err
			}
		}
		last := i == count-1 && hold == 0
		conn.SetDeadline(time.Now().Add(c.timeout))
		if err := c.request(conn, br, st, ua, send, last, res); err != nil {
			return err
		}
	}
	if hold > 0 {
		return sleep(ctx, hold)
	}
	// The last request said "Connection: close": wait for the server's
	// close so both sides end with FIN (closing with unread data, such as
	// TLS 1.3 session tickets, would send RST).
	conn.SetDeadline(time.Now().Add(c.timeout))
	if _, err := io.Copy(io.Discard, br); err == nil {
		// The server has closed: a close_notify now would only draw an RST.
		peerClosed = true
	}
	return nil
}

func (c *client) request(conn net.Conn, br *bufio.Reader, st *step, ua string, send int, last bool, res *clientResult) error {
	method := "GET"
	if send >= 0 {
		method = "POST"
	}
	connHdr := "keep-alive"
	if last {
		connHdr = "close"
	}
	var req strings.Builder
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\n", method, st.path, hostHeader(st), ua)
	if send >= 0 {
		fmt.Fprintf(&req, "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n", send)
	}
	fmt.Fprintf(&req, "Connection: %s\r\n\r\n", connHdr)
	w := bufio.NewWriter(conn)
	w.WriteString(req.String())
	if send > 0 {
		n, _ := filler(w, send)
		res.BodySent += int64(n)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("send request: %w", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	res.BodyReceived += n
	res.Status = resp.StatusCode
	res.Requests++
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	return nil
}

func hostHeader(st *step) string {
	host := st.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if st.kind == "http" && st.port != 80 || st.kind == "https" && st.port != 443 {
		host += ":" + strconv.Itoa(st.port)
	}
	return host
}

// udp sends count datagrams of send bytes, each asking for recv bytes back.
func (c *client) udp(ctx context.Context, st *step, ip netip.Addr, res *clientResult) error {
	d, err := c.dialer(st, ip, "udp")
	if err != nil {
		return err
	}
	send, err := st.int("send", 64)
	if err != nil {
		return err
	}
	recv, err := st.int("recv", 64)
	if err != nil {
		return err
	}
	count, err := st.int("count", 1)
	if err != nil {
		return err
	}
	every, err := st.duration("every")
	if err != nil {
		return err
	}
	if send < 4 {
		return errors.New("option send: need at least 4 bytes (they carry recv)")
	}
	conn, err := d.DialContext(ctx, "udp", netip.AddrPortFrom(ip, uint16(st.port)).String())
	if err != nil {
		return fmt.Errorf("dial udp: %w", err)
	}
	defer conn.Close()
	setLocal(res, conn.LocalAddr())
	msg := make([]byte, send)
	filler(&sliceWriter{b: msg}, send)
	msg[0], msg[1], msg[2], msg[3] = byte(recv>>24), byte(recv>>16), byte(recv>>8), byte(recv)
	buf := make([]byte, 65535)
	for i := 0; i < count; i++ {
		if i > 0 && every > 0 {
			if err := sleep(ctx, every); err != nil {
				return err
			}
		}
		n, err := conn.Write(msg)
		res.BytesSent += int64(n)
		if err != nil {
			return fmt.Errorf("send datagram: %w", err)
		}
		conn.SetReadDeadline(time.Now().Add(c.timeout))
		n, err = conn.Read(buf)
		res.BytesReceived += int64(n)
		if err != nil {
			return fmt.Errorf("read datagram: %w", err)
		}
	}
	return nil
}

// quic sends count QUIC Initial packets (a fresh connection ID each).
func (c *client) quic(ctx context.Context, st *step, ip netip.Addr, res *clientResult) error {
	d, err := c.dialer(st, ip, "udp")
	if err != nil {
		return err
	}
	count, err := st.int("count", 1)
	if err != nil {
		return err
	}
	sni := st.host
	if v := st.opt.Get("sni"); v != "" {
		sni = v
	}
	if sni == "-" || net.ParseIP(sni) != nil {
		sni = ""
	}
	conn, err := d.DialContext(ctx, "udp", netip.AddrPortFrom(ip, uint16(st.port)).String())
	if err != nil {
		return fmt.Errorf("dial udp: %w", err)
	}
	defer conn.Close()
	setLocal(res, conn.LocalAddr())
	res.SNI = sni
	for i := 0; i < count; i++ {
		pkt, err := quicInitial(ctx, sni)
		if err != nil {
			return err
		}
		n, err := conn.Write(pkt)
		res.BytesSent += int64(n)
		if err != nil {
			return fmt.Errorf("send initial: %w", err)
		}
	}
	return nil
}

type sliceWriter struct {
	b   []byte
	off int
}

func (w *sliceWriter) Write(p []byte) (int, error) {
	n := copy(w.b[w.off:], p)
	w.off += n
	return n, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
