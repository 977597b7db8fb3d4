package query

import (
	"cmp"
	"context"
	"slices"
	"strings"
)

// DeviceSummary is one device's traffic over a range.
type DeviceSummary struct {
	// MAC is "" for flows whose device has no known MAC address; IP
	// then tells the device.
	MAC          string  `json:"mac"`
	Device       *string `json:"device"`
	DeviceSource string  `json:"device_source,omitempty"`
	// IP is the address the device used last (the devices table), or
	// the source address of a device without a MAC.
	IP            string  `json:"ip"`
	Start         float64 `json:"start"`
	End           float64 `json:"end"`
	Flows         int     `json:"flows"`
	Hosts         int     `json:"hosts"` // distinct display hostnames
	BytesSent     int64   `json:"bytes_sent"`
	BytesReceived int64   `json:"bytes_received"`
	Active        bool    `json:"active"`
}

// DeviceResult is a page of device summaries and their number in all.
type DeviceResult struct {
	Rows  []DeviceSummary `json:"rows"`
	Total int             `json:"total"`
}

// Devices sums the flows matching p per device. The default order is by
// name (else MAC); Sort accepts the keys of flows that apply to a device
// (start, end, duration, bytes, sent, received, flows, mac, device).
func (e *Engine) Devices(ctx context.Context, p Params) (*DeviceResult, error) {
	pl, err := e.plan(ctx, p)
	if err != nil {
		return nil, err
	}
	type acc struct {
		s     DeviceSummary
		hosts map[string]struct{}
	}
	byDev := map[string]*acc{}
	err = pl.groups(ctx, e, false, func(g *groupRow) {
		k := g.deviceKey()
		a := byDev[k]
		if a == nil {
			a = &acc{s: DeviceSummary{MAC: g.mac, IP: g.devIP, Start: g.start, End: g.end}, hosts: map[string]struct{}{}}
			byDev[k] = a
		}
		s := &a.s
		s.Start, s.End = min(s.Start, g.start), max(s.End, g.end)
		s.Flows += g.flows
		s.BytesSent += g.sent
		s.BytesReceived += g.received
		s.Active = s.Active || g.active
		a.hosts[pl.hostKey(g.observed, g.hostIP)] = struct{}{}
	})
	if err != nil {
		return nil, err
	}
	res := &DeviceResult{Rows: make([]DeviceSummary, 0, len(byDev)), Total: len(byDev)}
	for _, a := range byDev {
		s := a.s
		s.Hosts = len(a.hosts)
		if name, src, ok := pl.devs.name(s.MAC); ok {
			s.Device, s.DeviceSource = &name, src
		}
		if ip := pl.devs.ip[s.MAC]; s.MAC != "" && ip != "" {
			s.IP = ip
		}
		res.Rows = append(res.Rows, s)
	}
	key := p.Sort
	if key == "" {
		key = SortDevice
	}
	slices.SortFunc(res.Rows, func(a, b DeviceSummary) int {
		c := compareDevices(&a, &b, key)
		if c == 0 {
			c = cmp.Or(strings.Compare(a.MAC, b.MAC), strings.Compare(a.IP, b.IP))
		}
		if p.Desc {
			return -c
		}
		return c
	})
	res.Rows = page(res.Rows, p.Limit, p.Offset)
	return res, nil
}

func compareDevices(a, b *DeviceSummary, key string) int {
	switch key {
	case SortStart:
		return cmp.Compare(a.Start, b.Start)
	case SortEnd:
		return cmp.Compare(a.End, b.End)
	case SortDuration:
		return cmp.Compare(a.End-a.Start, b.End-b.Start)
	case SortBytes:
		return cmp.Compare(a.BytesSent+a.BytesReceived, b.BytesSent+b.BytesReceived)
	case SortSent:
		return cmp.Compare(a.BytesSent, b.BytesSent)
	case SortReceived:
		return cmp.Compare(a.BytesReceived, b.BytesReceived)
	case SortFlows:
		return cmp.Compare(a.Flows, b.Flows)
	case SortMAC:
		return strings.Compare(a.MAC, b.MAC)
	}
	return cmp.Compare(strings.ToLower(summaryLabel(a)), strings.ToLower(summaryLabel(b)))
}

func summaryLabel(s *DeviceSummary) string {
	switch {
	case s.Device != nil:
		return *s.Device
	case s.MAC != "":
		return s.MAC
	}
	return s.IP
}
