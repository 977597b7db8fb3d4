package eve

// word returns the string equal to b among the words that repeat in every
// event (protocols, DNS types and codes, DHCP and flow states), so that
// decoding them allocates nothing and all events share one copy. A switch
// compiles to a jump on the length and a few byte compares: cheaper than
// a map, or a cache in front of it.
func word(b []byte) (string, bool) {
	switch string(b) {
	case "TCP":
		return "TCP", true
	case "UDP":
		return "UDP", true
	case "ICMP":
		return "ICMP", true
	case "IPv6-ICMP":
		return "IPv6-ICMP", true
	case "SCTP":
		return "SCTP", true
	case "GRE":
		return "GRE", true
	case "tls":
		return "tls", true
	case "http":
		return "http", true
	case "http2":
		return "http2", true
	case "dns":
		return "dns", true
	case "quic":
		return "quic", true
	case "dhcp":
		return "dhcp", true
	case "ssh":
		return "ssh", true
	case "smtp":
		return "smtp", true
	case "ftp":
		return "ftp", true
	case "ftp-data":
		return "ftp-data", true
	case "ntp":
		return "ntp", true
	case "smb":
		return "smb", true
	case "krb5":
		return "krb5", true
	case "snmp":
		return "snmp", true
	case "sip":
		return "sip", true
	case "rdp":
		return "rdp", true
	case "mqtt":
		return "mqtt", true
	case "rfb":
		return "rfb", true
	case "imap":
		return "imap", true
	case "ike":
		return "ike", true
	case "tftp":
		return "tftp", true
	case "nfs":
		return "nfs", true
	case "dcerpc":
		return "dcerpc", true
	case "bittorrent-dht":
		return "bittorrent-dht", true
	case "pgsql":
		return "pgsql", true
	case "telnet":
		return "telnet", true
	case "websocket":
		return "websocket", true
	case "doh2":
		return "doh2", true
	case "failed":
		return "failed", true
	case "A":
		return "A", true
	case "AAAA":
		return "AAAA", true
	case "CNAME":
		return "CNAME", true
	case "HTTPS":
		return "HTTPS", true
	case "SVCB":
		return "SVCB", true
	case "PTR":
		return "PTR", true
	case "MX":
		return "MX", true
	case "TXT":
		return "TXT", true
	case "NS":
		return "NS", true
	case "SOA":
		return "SOA", true
	case "SRV":
		return "SRV", true
	case "NOERROR":
		return "NOERROR", true
	case "NXDOMAIN":
		return "NXDOMAIN", true
	case "SERVFAIL":
		return "SERVFAIL", true
	case "REFUSED":
		return "REFUSED", true
	case "query":
		return "query", true
	case "answer":
		return "answer", true
	case "response":
		return "response", true
	case "request":
		return "request", true
	case "reply":
		return "reply", true
	case "discover":
		return "discover", true
	case "offer":
		return "offer", true
	case "ack":
		return "ack", true
	case "nak":
		return "nak", true
	case "release":
		return "release", true
	case "inform":
		return "inform", true
	case "decline":
		return "decline", true
	case "new":
		return "new", true
	case "established":
		return "established", true
	case "closed":
		return "closed", true
	case "bypassed":
		return "bypassed", true
	case "timeout":
		return "timeout", true
	case "forced":
		return "forced", true
	case "shutdown":
		return "shutdown", true
	case "allowed":
		return "allowed", true
	case "blocked":
		return "blocked", true
	case "to_server":
		return "to_server", true
	case "to_client":
		return "to_client", true
	}
	return "", false
}
