'use strict';
'require view';
'require rpc';
'require ui';
'require dom';
'require pakon.format as fmt';
'require pakon.chart as chart';

/*
 * Overview: per-device totals, traffic over time stacked by device, the
 * top host names, with links into the traffic view and renaming of
 * devices.
 */

var callDevices = rpc.declare({
	object: 'pakon',
	method: 'devices',
	params: [ 'start', 'end', 'sort', 'desc', 'limit' ],
	expect: { rows: [] }
});

var callHistogram = rpc.declare({
	object: 'pakon',
	method: 'histogram',
	params: [ 'start', 'end', 'group', 'series' ],
	expect: { '': {} }
});

var callTop = rpc.declare({
	object: 'pakon',
	method: 'top',
	params: [ 'start', 'end', 'by', 'metric', 'limit' ],
	expect: { rows: [] }
});

var callStatus = rpc.declare({
	object: 'pakon',
	method: 'status',
	expect: { '': {} }
});

var callSetDeviceName = rpc.declare({
	object: 'pakon',
	method: 'set_device_name',
	params: [ 'mac', 'name' ],
	reject: true
});

/* trafficURL links to the traffic view with the given filters. */
function trafficURL(p, extra) {
	return L.url('admin/status/pakon/traffic') + fmt.search(Object.assign({ preset: p.preset, start: p.start, end: p.end }, extra));
}

function rangeOf(p) {
	if (p.preset == 'custom' && p.start != null)
		return { start: p.start, end: p.end != null ? p.end : Math.floor(Date.now() / 1000) };
	return fmt.range(p.preset, Date.now());
}

return view.extend({
	handleSave: null,
	handleSaveApply: null,
	handleReset: null,

	fetch: function(p) {
		var r = rangeOf(p);
		return Promise.all([
			L.resolveDefault(callStatus(), null),
			L.resolveDefault(callDevices(r.start, r.end, 'bytes', true, 1000), []),
			L.resolveDefault(callHistogram(r.start, r.end, 'device', 8), {}),
			L.resolveDefault(callTop(r.start, r.end, 'hostname', 'bytes', 10), [])
		]);
	},

	load: function() {
		return this.fetch(fmt.params(window.location.search));
	},

	render: function(data) {
		var p = this.range = fmt.params(window.location.search), self = this;
		var preset = E('select', { 'class': 'cbi-input-select', 'id': 'pakon-range', 'aria-label': _('Time range') },
			fmt.presets.map(function(k) {
				return E('option', { 'value': k, 'selected': k == p.preset ? '' : null }, [ fmt.presetLabel(k) ]);
			}).concat(p.preset == 'custom'
				? [ E('option', { 'value': 'custom', 'selected': '' }, [ '%s \u2013 %s'.format(fmt.time(p.start), fmt.time(rangeOf(p).end)) ]) ] : []));
		preset.addEventListener('change', function() {
			p.preset = preset.value;
			p.start = p.end = null;
			window.history.replaceState(null, '', window.location.pathname + fmt.search({ preset: p.preset }));
			return self.reload();
		});
		this.body = E('div', { 'id': 'pakon-overview' });
		this.fill(data);
		return E('div', { 'class': 'pakon' }, [
			E('link', { 'rel': 'stylesheet', 'href': L.resource('pakon/pakon.css') }),
			E('h2', {}, [ _('Network activity') ]),
			E('div', { 'class': 'cbi-map-descr' }, [ _('What the devices on your network did, from the connections Suricata saw.') ]),
			E('div', { 'class': 'pakon-filters cbi-section' }, [ E('label', {}, [ _('Time'), ' ', preset ]) ]),
			this.body
		]);
	},

	reload: function() {
		var self = this;
		this.body.classList.add('pakon-loading');
		return this.fetch(this.range).then(function(data) {
			self.fill(data);
			self.body.classList.remove('pakon-loading');
		});
	},

	fill: function(data) {
		var st = data[0], devices = data[1], hist = data[2], top = data[3], p = this.range, self = this;
		var sent = 0, received = 0, flows = 0;
		devices.forEach(function(d) { sent += +d.bytes_sent || 0; received += +d.bytes_received || 0; flows += +d.flows || 0; });
		var connected = st && st.suricata && st.suricata.connected;
		var alerts = st && st.alerts, high = alerts && alerts.by_severity ? +alerts.by_severity.high || 0 : 0;

		var cards = E('div', { 'class': 'pakon-cards' }, [
			this.card(_('Devices'), fmt.number(devices.length)),
			this.card(_('Connections'), fmt.number(flows)),
			this.card(_('Downloaded'), fmt.bytes(received)),
			this.card(_('Uploaded'), fmt.bytes(sent)),
			this.card(_('Suricata'), st == null ? _('pakon does not answer') : connected ? _('connected') : _('not connected'),
				connected ? 'pakon-ok' : 'pakon-bad'),
			this.card(_('Alerts (24 h)'), E('a', { 'href': L.url('admin/status/pakon/alerts'), 'id': 'pakon-alert-count',
				'title': high ? _('%d of high severity').format(high) : null },
				[ alerts ? fmt.number(alerts.rows) : '-' ]), high ? 'pakon-bad' : null)
		]);

		var devTable = E('table', { 'class': 'table pakon-table pakon-static', 'id': 'pakon-devices' }, [
			E('tr', { 'class': 'tr table-titles' }, [
				E('th', { 'class': 'th' }, [ _('Device') ]), E('th', { 'class': 'th' }, [ _('Address') ]),
				E('th', { 'class': 'th pakon-num' }, [ _('Connections') ]), E('th', { 'class': 'th pakon-num' }, [ _('Hosts') ]),
				E('th', { 'class': 'th pakon-num' }, [ _('Sent') ]), E('th', { 'class': 'th pakon-num' }, [ _('Received') ]),
				E('th', { 'class': 'th' }, [ _('Last seen') ]), E('th', { 'class': 'th' })
			])
		].concat(devices.map(function(d) {
			var key = fmt.deviceKey(d);
			return E('tr', { 'class': 'tr pakon-row', 'data-mac': d.mac || '' }, [
				E('td', { 'class': 'td', 'data-title': _('Device') }, [
					E('a', { 'href': trafficURL(p, { device: key }), 'class': 'pakon-device-link' }, [ fmt.deviceLabel(d) ]),
					d.active ? E('span', { 'class': 'pakon-live', 'title': _('In progress') }, [ ' \u25cf' ]) : ''
				]),
				E('td', { 'class': 'td', 'data-title': _('Address') }, [ [ d.mac, d.ip ].filter(Boolean).join(' \u00b7 ') ]),
				E('td', { 'class': 'td pakon-num', 'data-title': _('Connections') }, [ fmt.number(d.flows) ]),
				E('td', { 'class': 'td pakon-num', 'data-title': _('Hosts') }, [ fmt.number(d.hosts) ]),
				E('td', { 'class': 'td pakon-num', 'data-title': _('Sent') }, [ fmt.bytes(d.bytes_sent) ]),
				E('td', { 'class': 'td pakon-num', 'data-title': _('Received') }, [ fmt.bytes(d.bytes_received) ]),
				E('td', { 'class': 'td', 'data-title': _('Last seen') }, [ fmt.time(d.end) ]),
				E('td', { 'class': 'td' }, d.mac ? [ E('button', { 'class': 'cbi-button cbi-button-edit pakon-rename',
					'click': ui.createHandlerFn(self, 'handleRename', d) }, [ _('Rename') ]) ] : [])
			]);
		})));

		var topTable = E('table', { 'class': 'table pakon-table pakon-static', 'id': 'pakon-top' }, [
			E('tr', { 'class': 'tr table-titles' }, [
				E('th', { 'class': 'th' }, [ _('Host') ]), E('th', { 'class': 'th pakon-num' }, [ _('Traffic') ]),
				E('th', { 'class': 'th pakon-num' }, [ _('Connections') ])
			])
		].concat(top.map(function(t) {
			return E('tr', { 'class': 'tr pakon-row' }, [
				E('td', { 'class': 'td', 'data-title': _('Host') }, [
					E('a', { 'href': trafficURL(p, { hostname: t.key }), 'class': 'pakon-host-link' }, [ t.hostname_unicode || t.key ])
				]),
				E('td', { 'class': 'td pakon-num', 'data-title': _('Traffic') }, [ fmt.bytes((+t.bytes_sent || 0) + (+t.bytes_received || 0)) ]),
				E('td', { 'class': 'td pakon-num', 'data-title': _('Connections') }, [ fmt.number(t.flows) ])
			]);
		})));

		dom.content(this.body, [
			cards,
			E('div', { 'class': 'cbi-section' }, [ E('h3', {}, [ _('Traffic over time') ]),
				hist.series ? chart.render(hist, { title: _('Traffic over time by device') }) : E('em', {}, [ _('No chart data') ]) ]),
			E('div', { 'class': 'cbi-section' }, [ E('h3', {}, [ _('Devices') ]),
				devices.length ? E('div', { 'class': 'pakon-scroll' }, devTable)
					: E('div', { 'class': 'alert-message notice' }, [ _('No device was active in this time range.') ]) ]),
			E('div', { 'class': 'cbi-section' }, [ E('h3', {}, [ _('Top hosts') ]),
				top.length ? E('div', { 'class': 'pakon-scroll' }, topTable) : E('em', {}, [ _('No hosts in this time range.') ]) ])
		]);
	},

	card: function(title, value, cls) {
		return E('div', { 'class': 'pakon-card' }, [
			E('div', {}, [ title ]), E('div', { 'class': 'pakon-value' + (cls ? ' ' + cls : '') }, [ value ])
		]);
	},

	handleRename: function(d, ev) {
		var self = this,
		    input = E('input', { 'type': 'text', 'class': 'cbi-input-text', 'id': 'pakon-rename-input',
		                         'value': d.device || '', 'maxlength': 63 });
		ui.showModal(_('Rename device %s').format(d.mac), [
			E('p', {}, [ _('The name is kept in /etc/config/pakon and wins over names from DHCP. Leave it empty to use the DHCP name again.') ]),
			E('p', {}, [ input ]),
			E('div', { 'class': 'right' }, [
				E('button', { 'class': 'cbi-button', 'click': ui.hideModal }, [ _('Cancel') ]), ' ',
				E('button', { 'class': 'cbi-button cbi-button-positive important', 'id': 'pakon-rename-save',
					'click': ui.createHandlerFn(this, function() {
						return callSetDeviceName(d.mac, input.value.trim()).then(function() {
							ui.hideModal();
							return self.reload();
						}).catch(function(err) {
							ui.hideModal();
							ui.addNotification(null, E('p', {}, [ _('Renaming failed: %s').format(err.message) ]), 'error');
						});
					}) }, [ _('Save') ])
			])
		]);
		input.focus();
	}
});
