'use strict';
'require view';
'require rpc';
'require ui';
'require dom';
'require pakon.format as fmt';

/*
 * Alerts: Suricata's rule matches per device, most severe first, folded
 * per rule, device, host and day. A row opens a panel that explains the
 * alert: the rule's text, its classification and references, and the
 * device's flows it concerns, with a link to that traffic. Suricata's own
 * anomaly events are kept apart behind a checkbox. The rule sources and
 * their last update are shown below.
 */

var callAlerts = rpc.declare({
	object: 'pakon',
	method: 'alerts',
	params: [ 'start', 'end', 'devices', 'severity', 'engine', 'sort', 'desc', 'limit', 'offset' ],
	reject: true
});

var callExplain = rpc.declare({
	object: 'pakon',
	method: 'alerts',
	params: [ 'id' ],
	reject: true
});

var callAlertRules = rpc.declare({
	object: 'pakon',
	method: 'alert_rules',
	expect: { '': {} }
});

var pageSize = 50;

function severityLabel(name) {
	switch (name) {
	case 'high': return _('High');
	case 'medium': return _('Medium');
	case 'low': return _('Low');
	case 'informational': return _('Info');
	}
	return _('Unknown');
}

function severityBadge(a) {
	return E('span', { 'class': 'pakon-sev pakon-sev-' + (a.severity_name || 'unknown'), 'title': _('Severity %d').format(a.severity) },
		[ severityLabel(a.severity_name) ]);
}

/* params reads the view's URL: time range (a week by default), device,
 * severity, engine events, page. */
function params(search) {
	var q = new URLSearchParams(search || ''), p = {};
	p.preset = fmt.presets.indexOf(q.get('preset')) != -1 ? q.get('preset') : '7d';
	p.start = +q.get('start') || null;
	p.end = +q.get('end') || null;
	if (p.start != null)
		p.preset = 'custom';
	p.device = q.get('device') || '';
	p.severity = [ '1', '2', '3' ].indexOf(q.get('severity')) != -1 ? +q.get('severity') : 0;
	p.engine = q.get('engine') == '1';
	p.page = Math.max(0, (+q.get('page') || 1) - 1);
	return p;
}

/* searchOf writes the parameters back; defaults are left out. */
function searchOf(p) {
	var q = new URLSearchParams();
	if (p.preset == 'custom' && p.start != null) {
		q.set('start', p.start);
		if (p.end != null)
			q.set('end', p.end);
	}
	else if (p.preset != '7d')
		q.set('preset', p.preset);
	if (p.device) q.set('device', p.device);
	if (p.severity) q.set('severity', p.severity);
	if (p.engine) q.set('engine', '1');
	if (p.page) q.set('page', p.page + 1);
	var s = q.toString();
	return s ? '?' + s : '';
}

function rangeOf(p) {
	if (p.preset == 'custom' && p.start != null)
		return { start: p.start, end: p.end != null ? p.end : Math.floor(Date.now() / 1000) };
	return fmt.range(p.preset, Date.now());
}

/* trafficURL links to the device's flows to the host around the alert. */
function trafficURL(t) {
	return L.url('admin/status/pakon/traffic') + fmt.search({ preset: 'custom', start: Math.floor(t.start), end: Math.ceil(t.end),
		device: t.device, hostname: t.hostname });
}

return view.extend({
	handleSave: null,
	handleSaveApply: null,
	handleReset: null,

	load: function() {
		return L.resolveDefault(callAlertRules(), {});
	},

	render: function(rulesInfo) {
		var p = this.state = params(window.location.search), self = this;
		var preset = E('select', { 'class': 'cbi-input-select', 'id': 'pakon-range', 'aria-label': _('Time range') },
			fmt.presets.map(function(k) {
				return E('option', { 'value': k, 'selected': k == p.preset ? '' : null }, [ fmt.presetLabel(k) ]);
			}).concat(p.preset == 'custom'
				? [ E('option', { 'value': 'custom', 'selected': '' }, [ '%s \u2013 %s'.format(fmt.time(p.start), fmt.time(rangeOf(p).end)) ]) ] : []));
		preset.addEventListener('change', function() {
			p.preset = preset.value;
			p.start = p.end = null;
			p.page = 0;
			self.update();
		});
		var severity = E('select', { 'class': 'cbi-input-select', 'id': 'pakon-severity', 'aria-label': _('Severity') }, [
			[ 0, _('All') ], [ 1, _('High') ], [ 2, _('Medium and higher') ], [ 3, _('Low and higher') ]
		].map(function(o) {
			return E('option', { 'value': o[0], 'selected': o[0] == p.severity ? '' : null }, [ o[1] ]);
		}));
		severity.addEventListener('change', function() {
			p.severity = +severity.value;
			p.page = 0;
			self.update();
		});
		var engine = E('input', { 'type': 'checkbox', 'id': 'pakon-engine', 'checked': p.engine ? '' : null });
		engine.addEventListener('change', function() {
			p.engine = engine.checked;
			p.page = 0;
			self.update();
		});
		this.summary = E('div', { 'class': 'pakon-summary', 'id': 'pakon-alerts-summary' });
		this.list = E('div', { 'id': 'pakon-alerts', 'class': 'pakon-loading' });
		this.details = E('div', { 'id': 'pakon-alert-details', 'class': 'cbi-section hidden' });
		this.update();
		return E('div', { 'class': 'pakon' }, [
			E('link', { 'rel': 'stylesheet', 'href': L.resource('pakon/pakon.css') }),
			E('h2', {}, [ _('Alerts') ]),
			E('div', { 'class': 'cbi-map-descr' }, [ _('Connections of your devices that matched an intrusion detection rule of Suricata, such as a known stalkerware server. Repeated matches of one rule on one device and host count as one row per day.') ]),
			E('div', { 'class': 'pakon-filters cbi-section' }, [
				E('label', {}, [ _('Time'), ' ', preset ]),
				E('label', {}, [ _('Severity'), ' ', severity ]),
				p.device ? E('span', { 'id': 'pakon-device-filter' }, [ _('Device %s').format(p.device), ' ',
					E('a', { 'href': L.url('admin/status/pakon/alerts') + searchOf(Object.assign({}, p, { device: '' })) }, [ _('(all devices)') ]) ]) : '',
				E('label', { 'title': _('Protocol anomalies Suricata reports about the traffic itself (bad checksums, broken streams); they rarely say anything about a device.') },
					[ engine, ' ', _('Show engine events instead') ])
			]),
			this.summary,
			this.list,
			this.details,
			this.rulesPanel(rulesInfo)
		]);
	},

	update: function() {
		var p = this.state, r = rangeOf(p), self = this;
		window.history.replaceState(null, '', window.location.pathname + searchOf(p));
		var sev = p.severity ? [ 1, 2, 3, 4 ].slice(0, p.severity) : undefined;
		this.list.classList.add('pakon-loading');
		return callAlerts(r.start, r.end, p.device ? [ p.device ] : undefined, sev, p.engine, 'severity', false,
			pageSize, (p.page || 0) * pageSize).then(function(res) {
			self.fill(res);
		}).catch(function(err) {
			dom.content(self.list, E('div', { 'class': 'alert-message warning' }, [ _('pakon does not answer: %s').format(err.message) ]));
		}).finally(function() {
			self.list.classList.remove('pakon-loading');
		});
	},

	fill: function(res) {
		var p = this.state, self = this, rows = res.rows || [];
		var first = (p.page || 0) * pageSize;
		dom.content(this.summary, rows.length ? [ _('Alerts %d\u2013%d of %d').format(first + 1, first + rows.length, res.total) ] : []);
		if (!rows.length) {
			dom.content(this.list, E('div', { 'class': 'alert-message notice', 'id': 'pakon-alerts-empty' }, [
				p.engine ? _('No engine events in this time range.') : _('No alerts in this time range. Alerts need Suricata rules: see the rule sources below.')
			]));
			return;
		}
		var table = E('table', { 'class': 'table pakon-table pakon-static' }, [
			E('tr', { 'class': 'tr table-titles' }, [
				E('th', { 'class': 'th' }, [ _('Severity') ]), E('th', { 'class': 'th' }, [ _('Device') ]),
				E('th', { 'class': 'th' }, [ _('Host') ]), E('th', { 'class': 'th' }, [ _('Alert') ]),
				E('th', { 'class': 'th pakon-num' }, [ _('Count') ]), E('th', { 'class': 'th' }, [ _('Last seen') ]), E('th', { 'class': 'th' })
			])
		].concat(rows.map(function(a) {
			return E('tr', { 'class': 'tr pakon-row', 'data-id': a.id, 'data-sid': a.sid, 'data-mac': a.mac }, [
				E('td', { 'class': 'td', 'data-title': _('Severity') }, [ severityBadge(a) ]),
				E('td', { 'class': 'td', 'data-title': _('Device') }, [
					E('a', { 'href': L.url('admin/status/pakon/alerts') + searchOf(Object.assign({}, p, { device: fmt.deviceKey(a), page: 0 })),
						'title': [ a.mac, a.src_ip ].filter(Boolean).join(' ') }, [ fmt.deviceLabel(a) ]) ]),
				E('td', { 'class': 'td pakon-host', 'data-title': _('Host') }, [ (a.inbound ? '\u2190 ' : '') + (a.hostname_unicode || a.hostname) ]),
				E('td', { 'class': 'td', 'data-title': _('Alert') }, [ a.signature ]),
				E('td', { 'class': 'td pakon-num', 'data-title': _('Count') }, [ fmt.number(a.count) ]),
				E('td', { 'class': 'td', 'data-title': _('Last seen') }, [ fmt.time(a.last_seen) ]),
				E('td', { 'class': 'td' }, [ E('button', { 'class': 'cbi-button pakon-explain',
					'click': ui.createHandlerFn(self, 'handleExplain', a) }, [ _('Why?') ]) ])
			]);
		})));
		var pager = E('div', { 'class': 'pakon-pagerbar' }, [
			E('button', { 'class': 'cbi-button', 'id': 'pakon-alerts-prev', 'disabled': first == 0 ? '' : null,
				'click': function() { p.page--; self.update(); } }, [ _('Previous') ]),
			E('button', { 'class': 'cbi-button', 'id': 'pakon-alerts-next', 'disabled': first + rows.length >= res.total ? '' : null,
				'click': function() { p.page = (p.page || 0) + 1; self.update(); } }, [ _('Next') ])
		]);
		dom.content(this.list, [ E('div', { 'class': 'pakon-scroll' }, table), res.total > pageSize ? pager : '' ]);
	},

	handleExplain: function(a) {
		var self = this;
		dom.content(this.details, E('em', {}, [ _('Loading\u2026') ]));
		this.details.classList.remove('hidden');
		return callExplain(a.id).then(function(x) {
			self.showDetails(x);
			self.details.scrollIntoView({ block: 'nearest' });
		}).catch(function(err) {
			dom.content(self.details, E('div', { 'class': 'alert-message warning' }, [ _('Cannot explain this alert: %s').format(err.message) ]));
		});
	},

	showDetails: function(x) {
		var a = x.alert, rule = x.rule;
		var facts = [
			[ _('Severity'), [ severityBadge(a), ' ', severityLabel(x.severity) ] ],
			[ _('Classification'), x.class ? x.class.description + (x.class.name ? ' (' + x.class.name + ')' : '') : '-' ],
			[ _('Rule'), '%d:%d rev %d'.format(a.gid, a.sid, a.rev) ],
			[ _('Seen'), a.count == 1 ? _('once, %s').format(fmt.time(a.last_seen))
				: _('%s \u2013 %s, %d times').format(fmt.time(a.first_seen), fmt.time(a.last_seen), a.count) ],
			[ _('Connection'), '%s:%d \u2192 %s:%d %s'.format(a.src_ip, a.src_port, a.dest_ip, a.dest_port, a.proto) +
				(a.inbound ? ' ' + _('(started by the remote side)') : '') ]
		];
		var flows = (x.flows || []).map(function(f) {
			return E('tr', { 'class': 'tr pakon-row' }, [
				E('td', { 'class': 'td', 'data-title': _('Start') }, [ fmt.time(f.start) ]),
				E('td', { 'class': 'td', 'data-title': _('Host') }, [ f.hostname_unicode || f.hostname ]),
				E('td', { 'class': 'td', 'data-title': _('Port') }, [ '%s/%s'.format(f.dest_port, f.proto) ]),
				E('td', { 'class': 'td pakon-num', 'data-title': _('Sent') }, [ fmt.bytes(f.bytes_sent) ]),
				E('td', { 'class': 'td pakon-num', 'data-title': _('Received') }, [ fmt.bytes(f.bytes_received) ])
			]);
		});
		dom.content(this.details, [
			E('h3', {}, [ a.signature ]),
			E('p', { 'id': 'pakon-alert-summary' }, [ x.summary ]),
			E('table', { 'class': 'table pakon-status' }, facts.map(function(f) {
				return E('tr', { 'class': 'tr' }, [ E('td', { 'class': 'td' }, [ f[0] ]), E('td', { 'class': 'td' }, f[1]) ]);
			})),
			E('h4', {}, [ _('Rule text') ]),
			rule ? E('pre', { 'id': 'pakon-rule-text', 'class': 'pakon-rule' }, [ rule.text ])
				: E('p', { 'id': 'pakon-rule-missing' }, [ x.rule_missing ]),
			rule ? E('p', { 'class': 'pakon-summary' }, [ _('From %s, line %d').format(rule.file, rule.line) ]) : '',
			(x.references || []).length ? E('h4', {}, [ _('References') ]) : '',
			E('ul', { 'id': 'pakon-references' }, (x.references || []).map(function(r) {
				return E('li', {}, [ r.url ? E('a', { 'href': r.url, 'target': '_blank', 'rel': 'noopener noreferrer' }, [ r.url ])
					: r.type + ': ' + r.value ]);
			})),
			E('h4', {}, [ _('Connections of the device to this host around the alert') ]),
			flows.length ? E('table', { 'class': 'table pakon-table', 'id': 'pakon-alert-flows' }, flows)
				: E('p', {}, [ _('No stored connections.') ]),
			E('p', {}, [ E('a', { 'href': trafficURL(x.traffic), 'id': 'pakon-alert-traffic', 'class': 'cbi-button' }, [ _('Show the traffic around this alert') ]) ])
		]);
	},

	rulesPanel: function(info) {
		var st = info.status || {}, files = info.files || [];
		var ran = st.time && Date.parse(st.time) > 0;
		var rules = files.reduce(function(n, f) { return n + (+f.rules || 0); }, 0);
		return E('div', { 'class': 'cbi-section', 'id': 'pakon-rules' }, [
			E('h3', {}, [ _('Rule sources') ]),
			E('table', { 'class': 'table pakon-status' }, [
				[ _('Daily update'), info.update ? _('on') : _('off (rules.update in /etc/config/pakon)') ],
				[ _('Sources'), (info.sources || []).concat((info.urls || []).map(function(u) { return u.name; }), info.local || []).join(', ') || '-' ],
				[ _('Last update'), [ E('span', { 'id': 'pakon-rules-state', 'class': !ran ? '' : st.ok ? 'pakon-ok' : 'pakon-bad' },
					[ !ran ? _('never') : st.ok ? _('OK') : _('failed') ]),
					' ', ran ? fmt.time(Date.parse(st.time) / 1000) + ' \u2013 ' : '\u2013 ', st.message || '' ] ],
				[ _('Rules in the rule files'), fmt.number(rules) ]
			].map(function(r) {
				return E('tr', { 'class': 'tr' }, [ E('td', { 'class': 'td' }, [ r[0] ]), E('td', { 'class': 'td' }, r[1]) ]);
			}))
		]);
	}
});
