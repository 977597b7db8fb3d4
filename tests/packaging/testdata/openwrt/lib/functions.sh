# Stand-in for OpenWrt's /lib/functions.sh in pakon's packaging tests,
# written from the documented behaviour, not copied: the UCI shell API that
# init scripts use (config_load, config_get, config_foreach,
# config_list_foreach) and the package hooks default_postinst and
# default_prerm that opkg's maintainer scripts call.
#
# config_load evaluates "uci export" as OpenWrt does, so sections and
# options come from the uci stand-in. config_get of a list yields its items
# separated by spaces; anonymous sections get cfgXXXXXX names.

CONFIG_SECTIONS=
CONFIG_SECTION=

package() {
	return 0
}

config() {
	CONFIG_SECTION="$2"
	CONFIG_SECTIONS="$CONFIG_SECTIONS $CONFIG_SECTION"
	eval "CONFIG_${CONFIG_SECTION}_TYPE=\$1"
}

option() {
	eval "CONFIG_${CONFIG_SECTION}_$1=\$2"
}

list() {
	local len
	eval "len=\$((\${CONFIG_${CONFIG_SECTION}_$1_LENGTH:-0} + 1))"
	eval "CONFIG_${CONFIG_SECTION}_$1_ITEM$len=\$2"
	eval "CONFIG_${CONFIG_SECTION}_$1_LENGTH=$len"
	eval "CONFIG_${CONFIG_SECTION}_$1=\"\${CONFIG_${CONFIG_SECTION}_$1:+\${CONFIG_${CONFIG_SECTION}_$1} }\$2\""
}

config_load() {
	local data
	CONFIG_SECTIONS=
	CONFIG_SECTION=
	data="$(uci -q -n -S export "$1")" || return 1
	eval "$data"
}

# config_get VAR SECTION OPTION [DEFAULT] or config_get SECTION OPTION
config_get() {
	case $# in
	2) eval "echo \"\${CONFIG_$1_$2}\"" ;;
	*) eval "$1=\"\${CONFIG_$2_$3:-\$4}\"" ;;
	esac
}

config_foreach() {
	local fn="$1" type="$2" section t
	shift 2
	for section in $CONFIG_SECTIONS; do
		config_get t "$section" TYPE
		[ -n "$type" ] && [ "$t" != "$type" ] && continue
		"$fn" "$section" "$@"
	done
	return 0
}

config_list_foreach() {
	local section="$1" option="$2" fn="$3" len i=1 v
	shift 3
	config_get len "$section" "${option}_LENGTH"
	while [ "$i" -le "${len:-0}" ]; do
		config_get v "$section" "${option}_ITEM$i"
		"$fn" "$v" "$@"
		i=$((i + 1))
	done
}

# default_postinst: run once the files are in place. Installing into an
# image (IPKG_INSTROOT set) only enables the init scripts; installing on
# a running system also applies the package's uci-defaults and starts them.
default_postinst() {
	local root="$IPKG_INSTROOT" pkgname ret=0 i
	pkgname="$(basename "${1%.*}")"
	local filelist="$root/usr/lib/opkg/info/$pkgname.list"

	if [ -z "$root" ] && grep -q "^/etc/uci-defaults/" "$filelist"; then
		for i in $(grep "^/etc/uci-defaults/" "$filelist"); do
			( [ -f "$i" ] && cd "${i%/*}" && . "$i" ) && rm -f "$i"
		done
		uci commit
	fi
	if [ -f "$root/usr/lib/opkg/info/$pkgname.postinst-pkg" ]; then
		( . "$root/usr/lib/opkg/info/$pkgname.postinst-pkg" )
		ret=$?
	fi
	for i in $(grep "^/etc/init.d/" "$filelist"); do
		if [ -n "$root" ]; then
			/bin/sh "$root/etc/rc.common" "$root$i" enable
		else
			[ "$PKG_UPGRADE" = 1 ] || "$i" enable
			"$i" start
		fi
	done
	return $ret
}

# default_prerm: run before the files go; disables and stops the services.
default_prerm() {
	local root="$IPKG_INSTROOT" pkgname ret=0 i
	pkgname="$(basename "${1%.*}")"
	local filelist="$root/usr/lib/opkg/info/$pkgname.list"

	if [ -f "$root/usr/lib/opkg/info/$pkgname.prerm-pkg" ]; then
		( . "$root/usr/lib/opkg/info/$pkgname.prerm-pkg" )
		ret=$?
	fi
	for i in $(grep "^/etc/init.d/" "$filelist"); do
		if [ -n "$root" ]; then
			/bin/sh "$root/etc/rc.common" "$root$i" disable
		else
			[ "$PKG_UPGRADE" = 1 ] || "$i" disable
			"$i" stop
		fi
	done
	return $ret
}
