package eve

// spares are the protocol objects a Decoder with Reuse fills again.
type spares struct {
	flow  Flow
	dns   DNS
	tls   TLS
	http  HTTP
	quic  QUIC
	dhcp  DHCP
	alert Alert
}

func (d *Decoder) newFlow() *Flow {
	if !d.Reuse {
		return new(Flow)
	}
	d.spare.flow = Flow{}
	return &d.spare.flow
}

// newDNS keeps the spare's slices: a response's answers are most of what
// a DNS event allocates.
func (d *Decoder) newDNS() *DNS {
	if !d.Reuse {
		return new(DNS)
	}
	x := &d.spare.dns
	clear(x.Queries)
	clear(x.Answers)
	*x = DNS{Queries: x.Queries[:0], Answers: x.Answers[:0]}
	return x
}

func (d *Decoder) newTLS() *TLS {
	if !d.Reuse {
		return new(TLS)
	}
	d.spare.tls = TLS{}
	return &d.spare.tls
}

func (d *Decoder) newHTTP() *HTTP {
	if !d.Reuse {
		return new(HTTP)
	}
	d.spare.http = HTTP{}
	return &d.spare.http
}

func (d *Decoder) newQUIC() *QUIC {
	if !d.Reuse {
		return new(QUIC)
	}
	d.spare.quic = QUIC{}
	return &d.spare.quic
}

func (d *Decoder) newDHCP() *DHCP {
	if !d.Reuse {
		return new(DHCP)
	}
	d.spare.dhcp = DHCP{}
	return &d.spare.dhcp
}

func (d *Decoder) newAlert() *Alert {
	if !d.Reuse {
		return new(Alert)
	}
	d.spare.alert = Alert{}
	return &d.spare.alert
}
