'use strict';
'require baseclass';

/*
 * Pure helpers shared by pakon's views: number, size, time and duration
 * formatting, time range presets, the traffic view's URL parameters, and
 * CSV. Nothing here touches the DOM or the network.
 */

var presets = [ '1h', 'today', '24h', '7d', '4w' ];

function pad(n) { return (n < 10 ? '0' : '') + n; }

return baseclass.extend({
	presets: presets,

	/* presetLabel names a preset for a select box. */
	presetLabel: function(p) {
		switch (p) {
		case '1h': return _('Last hour');
		case 'today': return _('Today');
		case '24h': return _('Last 24 hours');
		case '7d': return _('Last 7 days');
		case '4w': return _('Last 4 weeks');
		}
		return _('Custom range');
	},

	/* range turns a preset into {start, end} epoch seconds at now (ms). */
	range: function(preset, now) {
		var end = Math.floor(now / 1000);
		switch (preset) {
		case '1h': return { start: end - 3600, end: end };
		case 'today':
			var d = new Date(now);
			d.setHours(0, 0, 0, 0);
			return { start: Math.floor(d.getTime() / 1000), end: end };
		case '7d': return { start: end - 7 * 86400, end: end };
		case '4w': return { start: end - 28 * 86400, end: end };
		default: return { start: end - 86400, end: end };
		}
	},

	bytes: function(n) {
		n = +n || 0;
		var units = [ 'B', 'KiB', 'MiB', 'GiB', 'TiB' ], i = 0;
		while (n >= 1024 && i < units.length - 1) {
			n /= 1024;
			i++;
		}
		return (i == 0 ? String(n) : n.toFixed(n < 10 ? 2 : 1)) + '\u00a0' + units[i];
	},

	number: function(n) {
		return String(Math.round(+n || 0)).replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f');
	},

	duration: function(sec) {
		sec = Math.max(0, Math.round(+sec || 0));
		if (sec < 60)
			return sec + 's';
		if (sec < 3600)
			return Math.floor(sec / 60) + 'm\u00a0' + pad(sec % 60) + 's';
		if (sec < 86400)
			return Math.floor(sec / 3600) + 'h\u00a0' + pad(Math.floor(sec % 3600 / 60)) + 'm';
		return Math.floor(sec / 86400) + 'd\u00a0' + pad(Math.floor(sec % 86400 / 3600)) + 'h';
	},

	/* time shows epoch seconds as local "YYYY-MM-DD HH:MM:SS". */
	time: function(t) {
		if (t == null || t <= 0)
			return '-';
		var d = new Date(t * 1000);
		return '%d-%s-%s %s:%s:%s'.format(d.getFullYear(), pad(d.getMonth() + 1), pad(d.getDate()),
			pad(d.getHours()), pad(d.getMinutes()), pad(d.getSeconds()));
	},

	/* shortTime is "HH:MM", with the date when the range spans days. */
	shortTime: function(t, withDate) {
		var d = new Date(t * 1000), hm = pad(d.getHours()) + ':' + pad(d.getMinutes());
		return withDate ? pad(d.getDate()) + '.' + pad(d.getMonth() + 1) + '.\u00a0' + hm : hm;
	},

	/* toInput and fromInput convert epoch seconds to and from a datetime-local value. */
	toInput: function(t) {
		var d = new Date(t * 1000);
		return '%d-%s-%sT%s:%s'.format(d.getFullYear(), pad(d.getMonth() + 1), pad(d.getDate()), pad(d.getHours()), pad(d.getMinutes()));
	},
	fromInput: function(s) {
		var t = new Date(s).getTime();
		return isNaN(t) ? null : Math.floor(t / 1000);
	},

	/* isDuration accepts pakon's UCI durations: seconds or a number with s, m, h, d or w. */
	isDuration: function(v) {
		return /^[0-9]+[smhdw]?$/.test(String(v).trim());
	},

	/* deviceKey is what the device filter takes for a row: its MAC, else its address. */
	deviceKey: function(r) {
		return r.mac || r.ip || r.src_ip || '';
	},
	deviceLabel: function(r) {
		return r.device || r.mac || r.ip || r.src_ip || _('unknown');
	},

	/* hostLink is a URL for hosts reached over HTTP(S) by name, else null. */
	hostLink: function(r) {
		var h = r.hostname || '';
		if (!h || /^[0-9.]+$/.test(h) || h.indexOf(':') != -1 || !/^[a-zA-Z0-9.-]+$/.test(h))
			return null;
		if (r.app_proto == 'tls' || r.app_proto == 'quic' || r.dest_port == 443)
			return 'https://' + h + '/';
		if (r.app_proto == 'http' || r.dest_port == 80)
			return 'http://' + h + '/';
		return null;
	},

	/* params reads the traffic view's URL parameters. */
	params: function(search) {
		var q = new URLSearchParams(search || ''), p = {};
		p.preset = presets.indexOf(q.get('preset')) != -1 ? q.get('preset') : '24h';
		p.start = +q.get('start') || null;
		p.end = +q.get('end') || null;
		if (p.start != null)
			p.preset = 'custom';
		p.device = q.get('device') || '';
		p.hostname = q.get('hostname') || '';
		p.aggregate = q.get('aggregate') == '1';
		p.sort = q.get('sort') || 'start';
		p.desc = q.get('desc') != null ? q.get('desc') == '1' : true;
		p.limit = [ 10, 25, 50, 100, 250 ].indexOf(+q.get('limit')) != -1 ? +q.get('limit') : 50;
		p.page = Math.max(0, (+q.get('page') || 1) - 1);
		return p;
	},

	/* search writes parameters back; defaults are left out. */
	search: function(p) {
		var q = new URLSearchParams();
		if (p.preset == 'custom' && p.start != null) {
			q.set('start', p.start);
			if (p.end != null)
				q.set('end', p.end);
		}
		else if (p.preset && p.preset != '24h')
			q.set('preset', p.preset);
		if (p.device) q.set('device', p.device);
		if (p.hostname) q.set('hostname', p.hostname);
		if (p.aggregate) q.set('aggregate', '1');
		if (p.sort && p.sort != 'start') q.set('sort', p.sort);
		if (p.desc === false) q.set('desc', '0');
		if (p.limit && p.limit != 50) q.set('limit', p.limit);
		if (p.page) q.set('page', p.page + 1);
		var s = q.toString();
		return s ? '?' + s : '';
	},

	/* csvField quotes a value for CSV (RFC 4180). */
	csvField: function(v) {
		var s = (v == null) ? '' : String(v);
		return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
	},

	/* csvColumns are the export's columns; csvRow renders one query row. */
	csvColumns: [ 'start', 'end', 'duration', 'device', 'mac', 'src_ip', 'src_port', 'dest_ip', 'dest_port',
		'proto', 'app_proto', 'hostname', 'observed_name', 'bytes_sent', 'bytes_received', 'flows', 'active' ],
	csvRow: function(r) {
		var self = this;
		return this.csvColumns.map(function(c) {
			var v = r[c];
			if (c == 'start' || c == 'end')
				v = (v > 0) ? new Date(v * 1000).toISOString() : '';
			else if (c == 'active')
				v = v ? 1 : 0;
			return self.csvField(v);
		}).join(',');
	}
});
