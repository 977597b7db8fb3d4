package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"reflect"
	"testing"
)

func testZone(t *testing.T) zone {
	t.Helper()
	z := zone{}
	for _, line := range []string{
		"www.example.test 300 CNAME edge.cdn.test",
		"static.example.test 3600 CNAME assets.example.test",
		"assets.example.test 600 CNAME edge.cdn.test",
		"edge.cdn.test 60 A 203.0.113.10",
		"edge.cdn.test 60 AAAA 2001:db8:cd::10",
		"loop.test 5 CNAME loop.test",
		"dangling.test 5 CNAME gone.test",
	} {
		r, err := parseRR(line)
		if err != nil {
			t.Fatal(err)
		}
		z.add(r)
	}
	return z
}

func TestZoneAnswer(t *testing.T) {
	z := testZone(t)
	cname := func(from, to string, ttl uint32) rr { return rr{Name: from, Type: "CNAME", TTL: ttl, Data: to} }
	edgeA := rr{Name: "edge.cdn.test", Type: "A", TTL: 60, Data: "203.0.113.10"}
	tests := []struct {
		name  string
		qname string
		qtype uint16
		want  []rr
		rcode int
	}{
		{"direct", "edge.cdn.test", typeA, []rr{edgeA}, rcodeNoError},
		{"one link", "WWW.Example.Test.", typeA, []rr{cname("www.example.test", "edge.cdn.test", 300), edgeA}, rcodeNoError},
		{"two links", "static.example.test", typeA, []rr{
			cname("static.example.test", "assets.example.test", 3600),
			cname("assets.example.test", "edge.cdn.test", 600), edgeA}, rcodeNoError},
		{"aaaa", "www.example.test", typeAAAA, []rr{cname("www.example.test", "edge.cdn.test", 300),
			{Name: "edge.cdn.test", Type: "AAAA", TTL: 60, Data: "2001:db8:cd::10"}}, rcodeNoError},
		{"cname asked", "www.example.test", typeCNAME, []rr{cname("www.example.test", "edge.cdn.test", 300)}, rcodeNoError},
		{"no data", "edge.cdn.test", typeTXT, nil, rcodeNoError},
		{"nxdomain", "nope.test", typeA, nil, rcodeNXDomain},
		{"dangling", "dangling.test", typeA, []rr{cname("dangling.test", "gone.test", 5)}, rcodeNoError},
		{"loop", "loop.test", typeA, nil, rcodeServFail},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, rcode := z.answer(tc.qname, tc.qtype)
			if rcode != tc.rcode {
				t.Errorf("rcode = %d, want %d", rcode, tc.rcode)
			}
			if tc.rcode != rcodeServFail && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("answer = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseRR(t *testing.T) {
	for _, bad := range []string{
		"a.test 60 A",
		"a.test x A 192.0.2.1",
		"a.test 60 A 2001:db8::1",
		"a.test 60 AAAA 192.0.2.1",
		"a.test 60 SRV x",
	} {
		if _, err := parseRR(bad); err == nil {
			t.Errorf("parseRR(%q) succeeded", bad)
		}
	}
}

func TestRespondRoundTrip(t *testing.T) {
	z := testZone(t)
	q := &dnsMsg{ID: 0x1234, Flags: 0x0100, QName: "static.example.test", QType: typeA}
	req, err := q.pack()
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := z.respond(req)
	if err != nil {
		t.Fatal(err)
	}
	m, err := unpack(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != 0x1234 || !m.Response || m.Flags&0x0100 == 0 || m.Flags&0x0400 == 0 || m.rcode() != rcodeNoError {
		t.Errorf("header: id %#x flags %#x", m.ID, m.Flags)
	}
	if m.QName != "static.example.test" || len(m.Answers) != 3 || m.Answers[2].Data != "203.0.113.10" {
		t.Errorf("reply = %+v", m)
	}
}

func TestReadNameCompressed(t *testing.T) {
	// "a.test" at 12, then "www" + pointer to 12.
	msg := make([]byte, 12)
	msg = append(msg, 1, 'a', 4, 't', 'e', 's', 't', 0)
	msg = append(msg, 3, 'w', 'w', 'w', 0xc0, 12)
	name, next, err := readName(msg, 20)
	if err != nil || name != "www.a.test" || next != len(msg) {
		t.Errorf("readName = %q, %d, %v", name, next, err)
	}
	loop := append(make([]byte, 12), 0xc0, 12)
	if _, _, err := readName(loop, 12); err == nil {
		t.Error("compression loop not detected")
	}
}

func TestParseStep(t *testing.T) {
	tests := []struct {
		in         string
		kind, host string
		port       int
		path       string
		opt        string
	}{
		{"https://www.example.test/bytes/5#tls=1.2", "https", "www.example.test", 443, "/bytes/5", "1.2"},
		{"http://api.example.test:8080/x?y=1", "http", "api.example.test", 8080, "/x?y=1", ""},
		{"udp://[2001:db8::1]:5000#send=10", "udp", "2001:db8::1", 5000, "/", ""},
		{"dns://a.test#type=AAAA", "dns", "a.test", 53, "/", ""},
		{"quic://a.test", "quic", "a.test", 443, "/", ""},
	}
	for _, tc := range tests {
		st, err := parseStep(tc.in)
		if err != nil {
			t.Errorf("parseStep(%q): %v", tc.in, err)
			continue
		}
		if st.kind != tc.kind || st.host != tc.host || st.port != tc.port || st.path != tc.path || st.opt.Get("tls") != tc.opt {
			t.Errorf("parseStep(%q) = %+v", tc.in, st)
		}
	}
	for _, bad := range []string{"ftp://a.test", "udp://a.test", "https://", "http://a.test:x"} {
		if _, err := parseStep(bad); err == nil {
			t.Errorf("parseStep(%q) succeeded", bad)
		}
	}
}

// TestQUICInitial removes the protection again, as a server would, and
// finds the ClientHello with the SNI inside.
func TestQUICInitial(t *testing.T) {
	pkt, err := quicInitial(context.Background(), "www.example.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(pkt) < minInitialSize || len(pkt) > 1472 {
		t.Fatalf("packet size %d, want 1200..1472", len(pkt))
	}
	if pkt[0]&0xf0 != 0xc0 || binary.BigEndian.Uint32(pkt[1:]) != 1 {
		t.Fatalf("not a v1 long-header Initial: % x", pkt[:5])
	}
	dcid := pkt[6 : 6+int(pkt[5])]
	off := 6 + len(dcid)
	off += 1 + int(pkt[off]) // scid
	off++                    // token length 0
	length := int(binary.BigEndian.Uint16(pkt[off:]) & 0x3fff)
	off += 2
	pnOff := off
	if pnOff+length != len(pkt) {
		t.Fatalf("length field %d, packet has %d after it", length, len(pkt)-pnOff)
	}

	initial, _ := hkdf.Extract(sha256.New, dcid, quicV1Salt)
	secret, _ := expandLabel(initial, "client in", 32)
	key, _ := expandLabel(secret, "quic key", 16)
	iv, _ := expandLabel(secret, "quic iv", 12)
	hp, _ := expandLabel(secret, "quic hp", 16)

	hb, _ := aes.NewCipher(hp)
	mask := make([]byte, 16)
	hb.Encrypt(mask, pkt[pnOff+4:pnOff+20])
	hdr := append([]byte(nil), pkt[:pnOff+4]...)
	hdr[0] ^= mask[0] & 0x0f
	if hdr[0]&0x03 != 3 {
		t.Fatalf("packet number length %d, want 4", hdr[0]&0x03+1)
	}
	for i := range 4 {
		hdr[pnOff+i] ^= mask[1+i]
	}
	if pn := binary.BigEndian.Uint32(hdr[pnOff:]); pn != 0 {
		t.Fatalf("packet number %d", pn)
	}
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	plain, err := aead.Open(nil, iv, pkt[pnOff+4:], hdr)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if plain[0] != 0x06 || plain[1] != 0 {
		t.Fatalf("first frame % x, want CRYPTO at offset 0", plain[:2])
	}
	n := int(binary.BigEndian.Uint16(plain[2:]) & 0x3fff)
	hello := plain[4 : 4+n]
	if hello[0] != 1 { // handshake type client_hello
		t.Fatalf("handshake type %d", hello[0])
	}
	if !bytes.Contains(hello, []byte("www.example.test")) {
		t.Error("SNI not in the ClientHello")
	}
}
