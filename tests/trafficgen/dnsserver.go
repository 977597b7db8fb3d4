package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// zone holds the records of an authoritative server by owner name.
type zone map[string][]rr

// parseRR reads "NAME TTL TYPE DATA", e.g. "www.example.test 300 CNAME edge.cdn.test".
func parseRR(line string) (rr, error) {
	f := strings.Fields(line)
	if len(f) != 4 {
		return rr{}, fmt.Errorf("record %q: want NAME TTL TYPE DATA", line)
	}
	ttl, err := strconv.ParseUint(f[1], 10, 32)
	if err != nil {
		return rr{}, fmt.Errorf("record %q: ttl: %w", line, err)
	}
	t, err := parseType(f[2])
	if err != nil {
		return rr{}, fmt.Errorf("record %q: %w", line, err)
	}
	r := rr{Name: canonical(f[0]), Type: typeName(t), TTL: uint32(ttl), Data: f[3]}
	if t == typeCNAME || t == typeNS || t == typePTR {
		r.Data = canonical(r.Data)
	}
	if _, err := packRData(t, r.Data); err != nil {
		return rr{}, fmt.Errorf("record %q: %w", line, err)
	}
	return r, nil
}

func (z zone) add(r rr) { z[r.Name] = append(z[r.Name], r) }

// loadZone reads records, one a line; blank lines and # comments are skipped.
func (z zone) load(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open zone: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r, err := parseRR(line)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
		z.add(r)
	}
	return sc.Err()
}

// answer follows CNAME chains (at most 8 links) and returns the answer
// section and response code for one question.
func (z zone) answer(qname string, qtype uint16) ([]rr, int) {
	name := canonical(qname)
	want := typeName(qtype)
	var ans []rr
	for range 8 {
		recs := z[name]
		if len(recs) == 0 {
			if len(ans) == 0 {
				return nil, rcodeNXDomain
			}
			return ans, rcodeNoError
		}
		var cname *rr
		for i := range recs {
			if recs[i].Type == "CNAME" && want != "CNAME" {
				cname = &recs[i]
				break
			}
		}
		if cname != nil {
			ans = append(ans, *cname)
			name = cname.Data
			continue
		}
		for _, r := range recs {
			if r.Type == want {
				ans = append(ans, r)
			}
		}
		return ans, rcodeNoError
	}
	return ans, rcodeServFail
}

// respond builds the reply to one query message.
func (z zone) respond(req []byte) ([]byte, *dnsMsg, error) {
	q, err := unpack(req)
	if err != nil {
		return nil, nil, err
	}
	if q.Response {
		return nil, nil, errors.New("not a query")
	}
	ans, rcode := z.answer(q.QName, q.QType)
	// QR, AA, RA; keep opcode and RD from the query.
	flags := uint16(0x8480) | q.Flags&0x7900 | uint16(rcode)
	r := &dnsMsg{ID: q.ID, Flags: flags, QName: q.QName, QType: q.QType, Answers: ans, Response: true}
	b, err := r.pack()
	return b, r, err
}

func runDNSServer(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dns-server", flag.ContinueOnError)
	var listen, rrs stringList
	zonePath := fs.String("zone", "", "zone file: NAME TTL TYPE DATA per line")
	fs.Var(&listen, "listen", "UDP address to answer on (repeatable, default :53)")
	fs.Var(&rrs, "rr", "one record NAME TTL TYPE DATA (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	z := zone{}
	if *zonePath != "" {
		if err := z.load(*zonePath); err != nil {
			return err
		}
	}
	for _, s := range rrs {
		r, err := parseRR(s)
		if err != nil {
			return err
		}
		z.add(r)
	}
	if len(listen) == 0 {
		listen = stringList{":53"}
	}
	var conns []net.PacketConn
	for _, a := range listen {
		c, err := net.ListenPacket("udp", a)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return fmt.Errorf("listen %s: %w", a, err)
		}
		conns = append(conns, c)
	}
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveDNS(c, z)
		}()
	}
	emit(map[string]any{"event": "ready", "server": "dns", "listen": []string(listen), "records": len(z)})
	<-ctx.Done()
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	return nil
}

func serveDNS(c net.PacketConn, z zone) {
	buf := make([]byte, 4096)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		reply, r, err := z.respond(buf[:n])
		if err != nil {
			emit(map[string]any{"event": "dns-error", "client": from.String(), "error": err.Error()})
			continue
		}
		if _, err := c.WriteTo(reply, from); err != nil {
			emit(map[string]any{"event": "dns-error", "client": from.String(), "error": err.Error()})
			continue
		}
		emit(map[string]any{"event": "dns", "client": from.String(), "qname": r.QName,
			"qtype": typeName(r.QType), "rcode": rcodeName(r.rcode()), "answers": r.Answers})
	}
}
