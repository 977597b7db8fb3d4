module github.com/pakon/pakon

go 1.24

require (
	github.com/coreos/go-systemd/v22 v22.7.0
	github.com/godbus/dbus/v5 v5.2.4
	github.com/mattn/go-sqlite3 v1.14.53
	github.com/vmihailenco/msgpack/v5 v5.4.1
	golang.org/x/sys v0.27.0
)

require github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
