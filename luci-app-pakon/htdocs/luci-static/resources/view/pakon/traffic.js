'use strict';
'require view';
'require rpc';
'require ui';
'require dom';
'require pakon.format as fmt';

/*
 * Traffic: the flows of a time range, filtered by device and host name,
 * one row per flow or aggregated per device, host and port; sortable and
 * paged by the daemon, exportable as CSV. Filters live in the URL, so the
 * overview can link here and a reload keeps them.
 */

var callQuery = rpc.declare({
	object: 'pakon',
	method: 'query',
	params: [ 'start', 'end', 'devices', 'hostnames', 'dest_port', 'proto', 'aggregate', 'sort', 'desc', 'limit', 'offset' ],
	reject: true
});

var callDevices = rpc.declare({
	object: 'pakon',
	method: 'devices',
	params: [ 'start', 'end', 'limit' ],
	expect: { rows: [] }
});

var callStatus = rpc.declare({
	object: 'pakon',
	method: 'status',
	expect: { '': {} }
});

var pageSizes = [ 10, 25, 50, 100, 250 ];

/* columns of the table: title, sort key, aggregate-only. */
function columns(aggregate) {
	return [
		{ title: _('Start'), key: 'start' },
		{ title: _('Duration'), key: 'duration' },
		{ title: _('Device'), key: 'device' },
		{ title: _('Host'), key: 'hostname' },
		{ title: _('Port'), key: 'port' },
		{ title: _('Sent'), key: 'sent' },
		{ title: _('Received'), key: 'received' }
	].concat(aggregate ? [ { title: _('Flows'), key: 'flows' } ] : []);
}

/* rangeOf resolves the selected range to epoch seconds now. */
function rangeOf(p) {
	if (p.preset == 'custom' && p.start != null)
		return { start: p.start, end: p.end != null ? p.end : Math.floor(Date.now() / 1000) };
	return fmt.range(p.preset, Date.now());
}

function hostCell(r) {
	var name = r.hostname_unicode || r.hostname || r.dest_ip, link = fmt.hostLink(r);
	var title = r.observed_name && r.observed_name != r.hostname ? r.observed_name : (r.dest_ip || '');
	var node = link
		? E('a', { 'href': link, 'target': '_blank', 'rel': 'noopener noreferrer', 'title': title }, [ name ])
		: E('span', { 'title': title }, [ name ]);
	return node;
}

function flowRow(r, extraClass, expander, flowsCol) {
	return E('tr', {
		'class': 'tr pakon-row' + (r.active ? ' pakon-active' : '') + (extraClass ? ' ' + extraClass : ''),
		'data-mac': r.mac
	}, [
		E('td', { 'class': 'td', 'data-title': _('Start') }, [
			expander || '',
			r.active ? E('span', { 'class': 'pakon-live', 'title': _('In progress') }, [ '\u25cf' ]) : '',
			fmt.time(r.start)
		]),
		E('td', { 'class': 'td', 'data-title': _('Duration') }, [ fmt.duration(r.duration) ]),
		E('td', { 'class': 'td', 'data-title': _('Device') }, [
			E('span', { 'title': [ r.mac, r.src_ip ].filter(Boolean).join(' ') }, [ fmt.deviceLabel(r) ])
		]),
		E('td', { 'class': 'td pakon-host', 'data-title': _('Host') }, [ hostCell(r) ]),
		E('td', { 'class': 'td', 'data-title': _('Port') }, [
			'%s/%s'.format(r.dest_port || '-', r.proto || '?') + (r.app_proto && r.app_proto != 'failed' ? ' (' + r.app_proto + ')' : '')
		]),
		E('td', { 'class': 'td pakon-num', 'data-title': _('Sent') }, [ fmt.bytes(r.bytes_sent) ]),
		E('td', { 'class': 'td pakon-num', 'data-title': _('Received') }, [ fmt.bytes(r.bytes_received) ])
	].concat(flowsCol ? [ E('td', { 'class': 'td pakon-num', 'data-title': extraClass ? null : _('Flows') },
		extraClass ? [] : [ fmt.number(r.flows) ]) ] : []));
}

return view.extend({
	handleSave: null,
	handleSaveApply: null,
	handleReset: null,

	load: function() {
		var p = fmt.params(window.location.search), r = rangeOf(p);
		return Promise.all([
			L.resolveDefault(callStatus(), null),
			L.resolveDefault(callDevices(r.start, r.end, 1000), [])
		]);
	},

	/* args builds the query of the current filters, without paging. */
	args: function() {
		var p = this.state, r = rangeOf(p);
		return {
			start: r.start, end: r.end,
			devices: p.device ? [ p.device ] : undefined,
			hostnames: p.hostname ? [ p.hostname ] : undefined,
			aggregate: p.aggregate, sort: p.sort, desc: p.desc
		};
	},

	query: function(a, limit, offset) {
		return callQuery(a.start, a.end, a.devices, a.hostnames, a.dest_port, a.proto, a.aggregate, a.sort, a.desc, limit, offset);
	},

	render: function(data) {
		this.status = data[0];
		this.state = fmt.params(window.location.search);
		var p = this.state, self = this;

		var preset = E('select', { 'class': 'cbi-input-select', 'id': 'pakon-range', 'aria-label': _('Time range') },
			fmt.presets.concat([ 'custom' ]).map(function(k) {
				return E('option', { 'value': k, 'selected': k == p.preset ? '' : null }, [ fmt.presetLabel(k) ]);
			}));
		var r = rangeOf(p),
		    from = E('input', { 'type': 'datetime-local', 'id': 'pakon-from', 'value': fmt.toInput(r.start), 'aria-label': _('From') }),
		    to = E('input', { 'type': 'datetime-local', 'id': 'pakon-to', 'value': fmt.toInput(r.end), 'aria-label': _('To') }),
		    custom = E('span', { 'class': 'pakon-custom' + (p.preset == 'custom' ? '' : ' hidden') }, [
			    from, ' \u2013 ', to, ' ',
			    E('button', { 'class': 'cbi-button cbi-button-apply', 'id': 'pakon-apply-range', 'click': function() {
				    p.start = fmt.fromInput(from.value);
				    p.end = fmt.fromInput(to.value);
				    self.update({});
			    } }, [ _('Apply') ])
		    ]);
		preset.addEventListener('change', function() {
			custom.classList.toggle('hidden', preset.value != 'custom');
			if (preset.value == 'custom') {
				var cur = rangeOf(p);
				p.start = cur.start;
				p.end = cur.end;
				from.value = fmt.toInput(cur.start);
				to.value = fmt.toInput(cur.end);
			}
			self.update({ preset: preset.value });
		});

		var devs = data[1].slice().sort(function(a, b) { return L.naturalCompare(fmt.deviceLabel(a), fmt.deviceLabel(b)); });
		if (p.device && !devs.some(function(d) { return fmt.deviceKey(d) == p.device || d.device == p.device; }))
			devs.push({ mac: p.device });
		var device = E('select', { 'class': 'cbi-input-select', 'id': 'pakon-device', 'aria-label': _('Device'),
			'change': function(ev) { self.update({ device: ev.target.value }); } },
			[ E('option', { 'value': '' }, [ _('All devices') ]) ].concat(devs.map(function(d) {
				var key = fmt.deviceKey(d), label = d.device ? '%s (%s)'.format(d.device, key) : key;
				return E('option', { 'value': key, 'selected': (key == p.device || (d.device && d.device == p.device)) ? '' : null }, [ label ]);
			})));

		var host = E('input', { 'type': 'search', 'id': 'pakon-host', 'value': p.hostname, 'placeholder': _('example.com'),
			'aria-label': _('Host name'), 'title': _('A domain matches itself and its subdomains') });
		host.addEventListener('change', function() { self.update({ hostname: host.value.trim() }); });
		host.addEventListener('keydown', function(ev) {
			if (ev.key == 'Enter')
				self.update({ hostname: host.value.trim() });
		});

		var aggregate = E('input', { 'type': 'checkbox', 'id': 'pakon-aggregate', 'checked': p.aggregate ? '' : null,
			'change': function(ev) { self.update({ aggregate: ev.target.checked }); } });

		var size = E('select', { 'class': 'cbi-input-select', 'id': 'pakon-pagesize', 'aria-label': _('Rows per page'),
			'change': function(ev) { self.update({ limit: +ev.target.value }); } },
			pageSizes.map(function(n) { return E('option', { 'value': n, 'selected': n == p.limit ? '' : null }, [ String(n) ]); }));

		this.table = E('table', { 'class': 'table pakon-table pakon-loading', 'id': 'pakon-flows' });
		this.summary = E('div', { 'class': 'pakon-summary', 'id': 'pakon-summary' });
		this.pager = E('div', { 'class': 'pakon-pager', 'id': 'pakon-pager' });
		this.notice = E('div', { 'id': 'pakon-empty' });

		var node = E('div', { 'class': 'pakon' }, [
			E('link', { 'rel': 'stylesheet', 'href': L.resource('pakon/pakon.css') }),
			E('h2', {}, [ _('Traffic') ]),
			E('div', { 'class': 'cbi-map-descr' }, [ _('Connections of the devices on your network. Pick a time range, a device or a host; a domain includes its subdomains.') ]),
			E('div', { 'class': 'pakon-filters cbi-section' }, [
				E('label', {}, [ _('Time'), ' ', preset ]), custom,
				E('label', {}, [ _('Device'), ' ', device ]),
				E('label', {}, [ _('Host'), ' ', host ]),
				E('label', { 'class': 'pakon-check' }, [ aggregate, ' ', _('Group by device, host and port') ]),
				E('button', { 'class': 'cbi-button cbi-button-action', 'id': 'pakon-export',
					'click': ui.createHandlerFn(this, 'handleExport') }, [ _('Export CSV') ])
			]),
			this.summary,
			this.notice,
			E('div', { 'class': 'pakon-scroll' }, this.table),
			E('div', { 'class': 'pakon-pagerbar' }, [ this.pager, E('label', {}, [ _('Rows per page'), ' ', size ]) ])
		]);
		this.refresh();
		return node;
	},

	/* update changes filters, goes back to the first page and reloads. */
	update: function(changes) {
		Object.assign(this.state, changes);
		if (!('page' in changes))
			this.state.page = 0;
		if (changes.preset && changes.preset != 'custom')
			this.state.start = this.state.end = null;
		return this.refresh();
	},

	refresh: function() {
		var p = this.state, a = this.args(), self = this, seq = (this.seq = (this.seq || 0) + 1);
		window.history.replaceState(null, '', window.location.pathname + fmt.search(p));
		this.table.classList.add('pakon-loading');
		return this.query(a, p.limit, p.page * p.limit).then(function(res) {
			if (seq != self.seq)
				return;
			self.renderRows(res.rows || [], +res.total || 0);
			if (!res.total)
				return L.resolveDefault(callStatus(), null).then(function(st) { self.status = st; self.renderEmpty(); });
		}).catch(function(err) {
			self.renderRows([], 0);
			dom.content(self.notice, E('div', { 'class': 'alert-message warning' }, [ _('The query failed: %s').format(err.message) ]));
		}).finally(function() {
			self.table.classList.remove('pakon-loading');
		});
	},

	renderEmpty: function() {
		var st = this.status, db = (st && st.db) || {}, msgs = [],
		    stored = ((db.live && +db.live.rows) || 0) + ((db.archive && +db.archive.rows) || 0);
		if (st == null)
			msgs.push(_('pakon is not running or does not answer, so there is nothing to show.'));
		else if (stored == 0)
			msgs.push(_('No data yet: pakon has not recorded any connections. They appear here once devices use the network.'));
		else
			msgs.push(_('No connections match these filters in this time range.'));
		if (st != null && !(st.suricata && st.suricata.connected))
			msgs.push(_('Suricata is not connected to pakon, so no new traffic is being recorded. Check that the pakon-suricata service runs.'));
		dom.content(this.notice, E('div', { 'class': 'alert-message notice pakon-empty' }, msgs.map(function(m) { return E('p', {}, [ m ]); })));
	},

	renderRows: function(rows, total) {
		var p = this.state, self = this, cols = columns(p.aggregate);
		dom.content(this.notice, []);
		var head = E('tr', { 'class': 'tr table-titles' }, cols.map(function(c) {
			var active = p.sort == c.key;
			return E('th', { 'class': 'th pakon-sortable' + (active ? ' pakon-sorted' : ''), 'data-sort': c.key,
				'aria-sort': active ? (p.desc ? 'descending' : 'ascending') : null,
				'click': function() { self.update({ sort: c.key, desc: active ? !p.desc : (c.key != 'device' && c.key != 'hostname' && c.key != 'port') }); }
			}, [ c.title, active ? (p.desc ? ' \u25bc' : ' \u25b2') : '' ]);
		}));
		var body = total ? [ head ] : [];
		rows.forEach(function(r) {
			var expander = null;
			if (p.aggregate)
				expander = E('button', { 'class': 'cbi-button pakon-expand', 'title': _('Show the flows of this row'), 'aria-expanded': 'false',
					'click': function(ev) { return self.toggleMembers(ev.currentTarget, r); } }, [ '\u25b8' ]);
			body.push(flowRow(r, null, expander, p.aggregate));
		});
		dom.content(this.table, body);

		var first = total ? p.page * p.limit + 1 : 0, last = Math.min(total, (p.page + 1) * p.limit),
		    pages = Math.max(1, Math.ceil(total / p.limit));
		dom.content(this.summary, [ total
			? (p.aggregate ? _('Groups %d\u2013%d of %d') : _('Connections %d\u2013%d of %d')).format(first, last, total)
			: '' ]);
		this.pager.parentNode.classList.toggle('hidden', !total);
		dom.content(this.pager, [
			E('button', { 'class': 'cbi-button', 'id': 'pakon-prev', 'disabled': p.page > 0 ? null : '',
				'click': function() { self.update({ page: p.page - 1 }); } }, [ '\u2039 ' + _('Previous') ]),
			E('span', { 'class': 'pakon-page' }, [ ' ' + _('Page %d of %d').format(p.page + 1, pages) + ' ' ]),
			E('button', { 'class': 'cbi-button', 'id': 'pakon-next', 'disabled': last < total ? null : '',
				'click': function() { self.update({ page: p.page + 1 }); } }, [ _('Next') + ' \u203a' ])
		]);
	},

	/* toggleMembers shows or hides the flows an aggregate row stands for. */
	toggleMembers: function(btn, r) {
		var tr = btn.closest('tr'), open = btn.getAttribute('aria-expanded') == 'true';
		while (tr.nextElementSibling && tr.nextElementSibling.classList.contains('pakon-member'))
			tr.nextElementSibling.remove();
		btn.setAttribute('aria-expanded', String(!open));
		btn.textContent = open ? '\u25b8' : '\u25be';
		if (open)
			return;
		var a = this.args(), limit = 100;
		a.aggregate = false;
		a.sort = 'start';
		a.desc = false;
		a.devices = [ fmt.deviceKey(r) ];
		a.hostnames = [ (r.hostname == r.dest_ip || !r.hostname) ? r.dest_ip : '=' + r.hostname ];
		a.dest_port = r.dest_port;
		a.proto = r.proto;
		return this.query(a, limit, 0).then(function(res) {
			var after = tr;
			(res.rows || []).forEach(function(m) {
				var row = flowRow(m, 'pakon-member', null, true);
				after.parentNode.insertBefore(row, after.nextSibling);
				after = row;
			});
			if (res.total > limit) {
				var more = E('tr', { 'class': 'tr pakon-member' }, E('td', { 'class': 'td', 'colspan': 8 },
					[ _('%d more flows are not shown; filter the table to see them.').format(res.total - limit) ]));
				after.parentNode.insertBefore(more, after.nextSibling);
			}
		}).catch(function(err) {
			ui.addNotification(null, E('p', {}, [ _('The query failed: %s').format(err.message) ]), 'warning');
		});
	},

	/* handleExport fetches every page of the current query and saves it as CSV. */
	handleExport: function(ev) {
		var a = this.args(), rows = [], self = this, page = 1000;
		var next = function(offset) {
			return self.query(a, page, offset).then(function(res) {
				rows = rows.concat(res.rows || []);
				if ((res.rows || []).length == page && rows.length < res.total)
					return next(offset + page);
			});
		};
		return next(0).then(function() {
			var csv = [ fmt.csvColumns.join(',') ].concat(rows.map(function(r) { return fmt.csvRow(r); })).join('\r\n') + '\r\n',
			    url = URL.createObjectURL(new Blob([ csv ], { type: 'text/csv' })),
			    link = E('a', { 'href': url, 'download': 'pakon-%s.csv'.format(fmt.toInput(a.start).replace(/[-:]/g, '')), 'style': 'display:none' });
			document.body.appendChild(link);
			link.click();
			window.setTimeout(function() { URL.revokeObjectURL(url); link.remove(); }, 1000);
		}).catch(function(err) {
			ui.addNotification(null, E('p', {}, [ _('The export failed: %s').format(err.message) ]), 'warning');
		});
	}
});

