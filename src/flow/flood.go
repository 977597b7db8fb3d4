package flow

import (
	"slices"
	"time"
)

// capDevice counts a flow that dev could not open because it holds
// MaxOpenPerDevice flows already.
func (c *Correlator) capDevice(dev string, now time.Time) {
	c.stats.DeviceCapped++
	f := c.flooding[dev]
	if f == nil {
		if len(c.flooding) >= maxFlooding {
			// Forget the device that was capped least.
			var least string
			for k, v := range c.flooding {
				if least == "" || v.Capped < c.flooding[least].Capped {
					least = k
				}
			}
			delete(c.flooding, least)
		}
		f = &DeviceFlood{Device: dev}
		c.flooding[dev] = f
	}
	f.Capped++
	f.Last = now
}

// floodReport lists the flooding devices, most capped first.
func (c *Correlator) floodReport() []DeviceFlood {
	if len(c.flooding) == 0 {
		return nil
	}
	out := make([]DeviceFlood, 0, len(c.flooding))
	for dev, f := range c.flooding {
		d := *f
		d.Open = c.perDevice[dev]
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b DeviceFlood) int {
		if a.Capped != b.Capped {
			if a.Capped > b.Capped {
				return -1
			}
			return 1
		}
		if a.Device < b.Device {
			return -1
		}
		return 1
	})
	return out
}
