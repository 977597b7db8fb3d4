package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"sync"
	"time"
)

// certStore issues leaf certificates from a throw-away test CA, one per
// name, so the TLS subject seen on the wire is known in advance.
type certStore struct {
	caKey  *ecdsa.PrivateKey
	caCert *x509.Certificate
	fixed  string // CN for every certificate, or "" to use the SNI

	mu     sync.Mutex
	leaves map[string]*tls.Certificate
	serial int64
}

// caName is the issuer every lab certificate carries.
var caName = pkix.Name{CommonName: "Pakon Test CA", Organization: []string{"pakon lab"}}

func newCertStore(fixedCN string) (*certStore, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ca key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               caName,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	return &certStore{caKey: key, caCert: ca, fixed: fixedCN, leaves: map[string]*tls.Certificate{}, serial: 1}, nil
}

// get returns the leaf for the client's SNI (or the fixed name).
func (s *certStore) get(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := s.fixed
	if name == "" {
		name = hello.ServerName
	}
	if name == "" {
		name = "localhost"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.leaves[name]; ok {
		return c, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("leaf key: %w", err)
	}
	s.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(s.serial),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"pakon lab"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.caCert, &key.PublicKey, s.caKey)
	if err != nil {
		return nil, fmt.Errorf("leaf certificate %s: %w", name, err)
	}
	c := &tls.Certificate{Certificate: [][]byte{der, s.caCert.Raw}, PrivateKey: key}
	s.leaves[name] = c
	return c, nil
}
