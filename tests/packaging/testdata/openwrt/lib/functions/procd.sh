# Stand-in for OpenWrt's /lib/functions/procd.sh in pakon's packaging tests,
# written from its documented API. Instead of building the JSON message for
# "ubus call service set", each call appends one line to $PROCD_LOG (default
# /tmp/procd.log): the call's name and its arguments separated by tabs, so
# the test sees the command line, files, triggers and parameters procd
# would get, argument by argument.

_procd_log() {
	local IFS="	"
	echo "$*" >>"${PROCD_LOG:-/tmp/procd.log}"
}

_procd_name() {
	local script
	script="$(readlink "$initscript")"
	basename "${script:-$initscript}"
}

procd_open_service() { _PROCD_SEQ=0; _procd_log open_service "$@"; }
procd_close_service() { _procd_log close_service "${1:-set}"; }

procd_open_instance() {
	_PROCD_SEQ=$((_PROCD_SEQ + 1))
	_procd_log open_instance "${1:-instance$_PROCD_SEQ}"
}
procd_close_instance() { _procd_log close_instance; }

# procd_set_param TYPE [VALUE...]: one argument per array item.
procd_set_param() { _procd_log set_param "$@"; }
procd_append_param() { _procd_log append_param "$@"; }

# procd_add_reload_trigger CONFIG...: on "uci commit CONFIG", procd runs
# "/etc/init.d/NAME reload".
procd_add_reload_trigger() {
	local c
	for c in "$@"; do
		_procd_log trigger config.change "$c" "/etc/init.d/$(_procd_name)" reload
	done
}

procd_add_raw_trigger() { _procd_log trigger "$@"; }
procd_kill() { _procd_log kill "$@"; }
procd_send_signal() { _procd_log signal "$@"; }
