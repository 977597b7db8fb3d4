package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"fmt"
)

// quicV1Salt is the Initial salt of QUIC version 1 (RFC 9001, 5.2).
var quicV1Salt = []byte{
	0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
	0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
}

// minInitialSize is the smallest UDP payload a client Initial may have.
const minInitialSize = 1200

func appendVarint(b []byte, v uint64) []byte {
	switch {
	case v < 1<<6:
		return append(b, byte(v))
	case v < 1<<14:
		return binary.BigEndian.AppendUint16(b, uint16(v)|0x4000)
	case v < 1<<30:
		return binary.BigEndian.AppendUint32(b, uint32(v)|0x80000000)
	}
	return binary.BigEndian.AppendUint64(b, v|0xc000000000000000)
}

// expandLabel is HKDF-Expand-Label from TLS 1.3 with an empty context.
func expandLabel(secret []byte, label string, n int) ([]byte, error) {
	full := "tls13 " + label
	info := binary.BigEndian.AppendUint16(nil, uint16(n))
	info = append(info, byte(len(full)))
	info = append(info, full...)
	info = append(info, 0)
	return hkdf.Expand(sha256.New, secret, string(info), n)
}

// clientHello lets crypto/tls write a QUIC ClientHello for sni.
func clientHello(ctx context.Context, sni string, scid []byte) ([]byte, error) {
	cfg := &tls.Config{ServerName: sni, NextProtos: []string{"h3"}, MinVersion: tls.VersionTLS13, InsecureSkipVerify: true,
		// X25519 alone keeps the ClientHello, and so the Initial, under one
		// 1500-byte frame; a hybrid post-quantum share would not fit.
		CurvePreferences: []tls.CurveID{tls.X25519}}
	qc := tls.QUICClient(&tls.QUICConfig{TLSConfig: cfg})
	defer qc.Close()
	var tp []byte
	param := func(id uint64, v []byte) {
		tp = appendVarint(tp, id)
		tp = appendVarint(tp, uint64(len(v)))
		tp = append(tp, v...)
	}
	param(0x01, appendVarint(nil, 30000)) // max_idle_timeout
	param(0x03, appendVarint(nil, 1452))  // max_udp_payload_size
	param(0x04, appendVarint(nil, 1<<20)) // initial_max_data
	param(0x05, appendVarint(nil, 1<<18)) // initial_max_stream_data_bidi_local
	param(0x08, appendVarint(nil, 100))   // initial_max_streams_bidi
	param(0x0f, scid)                     // initial_source_connection_id
	qc.SetTransportParameters(tp)
	if err := qc.Start(ctx); err != nil {
		return nil, fmt.Errorf("quic tls start: %w", err)
	}
	var hello []byte
	for {
		ev := qc.NextEvent()
		if ev.Kind == tls.QUICNoEvent {
			break
		}
		if ev.Kind == tls.QUICWriteData && ev.Level == tls.QUICEncryptionLevelInitial {
			hello = append(hello, ev.Data...)
		}
	}
	if len(hello) == 0 {
		return nil, fmt.Errorf("quic tls: no ClientHello")
	}
	return hello, nil
}

// quicInitial builds one protected QUIC v1 client Initial packet carrying a
// ClientHello with the given SNI, padded to 1200 bytes (RFC 9000 17.2.2,
// RFC 9001 5).
func quicInitial(ctx context.Context, sni string) ([]byte, error) {
	dcid := make([]byte, 8)
	scid := make([]byte, 8)
	rand.Read(dcid)
	rand.Read(scid)
	hello, err := clientHello(ctx, sni, scid)
	if err != nil {
		return nil, err
	}

	initial, err := hkdf.Extract(sha256.New, dcid, quicV1Salt)
	if err != nil {
		return nil, fmt.Errorf("quic initial secret: %w", err)
	}
	secret, err := expandLabel(initial, "client in", 32)
	if err != nil {
		return nil, err
	}
	key, err := expandLabel(secret, "quic key", 16)
	if err != nil {
		return nil, err
	}
	iv, err := expandLabel(secret, "quic iv", 12)
	if err != nil {
		return nil, err
	}
	hp, err := expandLabel(secret, "quic hp", 16)
	if err != nil {
		return nil, err
	}

	payload := []byte{0x06} // CRYPTO
	payload = appendVarint(payload, 0)
	payload = appendVarint(payload, uint64(len(hello)))
	payload = append(payload, hello...)

	const pnLen = 4
	hdr := []byte{0xc0 | (pnLen - 1)} // long header, Initial, 4-byte packet number
	hdr = binary.BigEndian.AppendUint32(hdr, 1)
	hdr = append(hdr, byte(len(dcid)))
	hdr = append(hdr, dcid...)
	hdr = append(hdr, byte(len(scid)))
	hdr = append(hdr, scid...)
	hdr = appendVarint(hdr, 0) // no token
	// Length is a 2-byte varint: fix the padding first.
	total := len(hdr) + 2 + pnLen + len(payload) + 16
	if total < minInitialSize {
		payload = append(payload, make([]byte, minInitialSize-total)...) // PADDING frames
	}
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(pnLen+len(payload)+16)|0x4000)
	pnOff := len(hdr)
	hdr = binary.BigEndian.AppendUint32(hdr, 0) // packet number 0

	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("quic aead: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("quic aead: %w", err)
	}
	// The nonce is the IV XOR the packet number, which is 0.
	pkt := aead.Seal(hdr, iv, payload, hdr)

	hpBlock, err := aes.NewCipher(hp)
	if err != nil {
		return nil, fmt.Errorf("quic header protection: %w", err)
	}
	mask := make([]byte, 16)
	hpBlock.Encrypt(mask, pkt[pnOff+4:pnOff+20])
	pkt[0] ^= mask[0] & 0x0f
	for i := range pnLen {
		pkt[pnOff+i] ^= mask[1+i]
	}
	return pkt, nil
}
