package hardening

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"
)

// BenchmarkDaemonOpenFlowsRSS reports the resident memory of the real
// daemon (its default settings) while it tracks 10,000 or 100,000 open
// flows of 30 devices, fed through its EVE socket: TLS starts whose flow
// events never come.
//
//	go test -run XXX -bench DaemonOpenFlowsRSS -benchtime 1x ./tests/hardening
func BenchmarkDaemonOpenFlowsRSS(b *testing.B) {
	for _, open := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("open=%d", open), func(b *testing.B) {
			for range b.N {
				benchDaemonRSS(b, open)
			}
		})
	}
}

func benchDaemonRSS(b *testing.B, open int) {
	r := start(b)
	conn, err := net.Dial("unix", r.pk.Socket)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	w := bufio.NewWriterSize(conn, 256<<10)
	at := time.Now().Add(-time.Hour)
	for i := range open {
		dev := i % 30
		fmt.Fprintf(w, `{"timestamp":%q,"flow_id":%d,"event_type":"tls","src_ip":"192.168.1.%d","src_port":%d,"dest_ip":"203.0.%d.%d","dest_port":443,"proto":"TCP","tls":{"sni":"svc%d.example.test"},"ether":{"src_mac":%q,"dest_mac":"02:00:00:00:00:01"}}`+"\n",
			ts(at.Add(time.Duration(i)*time.Millisecond)), 1_000_000+i, 10+dev, 1024+i%60000, i/250%250, 1+i%250, i%400, mac(100+dev))
		if i%2000 == 1999 {
			w.Flush()
			time.Sleep(100 * time.Millisecond) // stay within the queue
		}
	}
	w.Flush()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := r.status(b)
		if s.Lines.Dropped > 0 {
			b.Fatalf("%d lines dropped: feed slower", s.Lines.Dropped)
		}
		if int(s.Raw["limits"].(map[string]any)["open_flows"].(float64)) >= open {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("open flows never reached %d: %+v", open, s.Raw["limits"])
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // active rows written, GC settled
	b.ReportMetric(float64(rssKiB(b, r.daemon.PID()))/1024, "RSS-MiB")
	b.ReportMetric(float64(open), "open-flows")
	runtime.KeepAlive(conn)
}
