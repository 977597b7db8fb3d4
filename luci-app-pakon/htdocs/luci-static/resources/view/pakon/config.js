'use strict';
'require view';
'require form';
'require rpc';
'require ui';
'require dom';
'require poll';
'require pakon.format as fmt';

/*
 * Settings: pakon's /etc/config/pakon as a form (monitoring, storage,
 * archive, archive rules, domain lists, IDS alerts and their rules), a
 * live status panel and the "Clear data" action.
 */

var callStatus = rpc.declare({
	object: 'pakon',
	method: 'status',
	expect: { '': {} }
});

var callClear = rpc.declare({
	object: 'pakon',
	method: 'clear',
	params: [ 'all' ],
	reject: true
});

function validDuration(section_id, value) {
	return (value == null || value === '' || fmt.isDuration(value)) ? true
		: _('Expecting seconds or a number with s, m, h, d or w, like 1h or 4w');
}

function statusRows(st) {
	if (st == null)
		return [ [ _('pakon'), E('span', { 'class': 'pakon-bad' }, [ _('not running or not answering') ]) ] ];
	var s = st.suricata || {}, lines = st.lines || {}, db = st.db || {}, live = db.live || {}, arch = db.archive || {},
	    flows = st.flows || {};
	var rows = [
		[ _('Suricata'), s.connected
			? E('span', { 'class': 'pakon-ok' }, [ _('connected') ])
			: E('span', { 'class': 'pakon-bad' }, [ _('not connected') ]) ],
		[ _('Last connection'), fmt.time(s.last_connect) ],
		[ _('Events per second'), (+st.events_per_second || 0).toFixed(1) ],
		[ _('Lines read / dropped / rejected'), '%s / %s / %s'.format(fmt.number(lines.read), fmt.number(lines.dropped), fmt.number(lines.rejected)) ],
		[ _('Open connections'), fmt.number(flows.open) ],
		[ _('Live database'), '%s, %s %s'.format(fmt.bytes(live.size), fmt.number(live.rows), _('rows')) ],
		[ _('Archive'), arch.path ? '%s, %s %s'.format(fmt.bytes(arch.size), fmt.number(arch.rows), _('rows')) : _('none') ],
		[ _('Last commit to the archive'), fmt.time(st.last_commit) ],
		[ _('Running for'), fmt.duration(st.uptime) ]
	];
	(st.errors || []).forEach(function(e) {
		rows.push([ _('Problem'), E('span', { 'class': 'pakon-bad' }, [ e ]) ]);
	});
	return rows;
}

return view.extend({
	load: function() {
		return L.resolveDefault(callStatus(), null);
	},

	renderStatus: function(st) {
		dom.content(this.statusTable, statusRows(st).map(function(r) {
			return E('tr', { 'class': 'tr' }, [
				E('td', { 'class': 'td' }, [ r[0] ]), E('td', { 'class': 'td' }, [ r[1] ])
			]);
		}));
	},

	render: function(status) {
		var m, s, o, self = this;

		m = new form.Map('pakon', _('Network activity settings'),
			_('What pakon records, where it keeps it and for how long. Changes take effect when pakon reloads after "Save & Apply".'));
		m.tabbed = true;

		s = m.section(form.NamedSection, 'monitor', 'monitor', _('Monitoring'));
		s.tab('capture', _('Traffic'));
		s.tab('storage', _('Live data'));

		o = s.taboption('capture', form.DynamicList, 'interface', _('Monitored interfaces'),
			_('Devices are told apart by MAC address, which only means something on the LAN side: list the LAN and guest bridges, not the WAN. With none, every interface is recorded.'));
		o.datatype = 'network';
		o.placeholder = 'br-lan';

		o = s.taboption('capture', form.DynamicList, 'local_network', _('Local networks'),
			_('Addresses in these networks are devices, all others are destinations. Empty means the private, link-local and unique-local ranges.'));
		o.datatype = 'cidr';
		o.placeholder = '192.168.1.0/24';

		o = s.taboption('capture', form.Flag, 'skip_dns', _('Leave out DNS connections'),
			_('DNS answers are still used to name destinations.'));
		o.default = '1';
		o.rmempty = false;

		o = s.taboption('capture', form.Flag, 'skip_unidirectional', _('Leave out one-way connections'),
			_('Connections that moved no bytes in one direction (scans, failed attempts) mostly add noise.'));
		o.default = '1';
		o.rmempty = false;

		o = s.taboption('storage', form.Value, 'commit_interval', _('Commit interval'),
			_('How often recent data is written from RAM to the archive on persistent storage. A power cut loses at most this much history; a shorter interval writes the flash more often and wears it out sooner. Seconds, or a number with m, h or d, like 30m.'));
		o.placeholder = '1h';
		o.validate = validDuration;

		o = s.taboption('storage', form.Value, 'database_limit', _('Live database rows'),
			_('Most rows kept in RAM; the oldest go first. Lower it on routers with little memory.'));
		o.datatype = 'uinteger';
		o.placeholder = '3000000';

		o = s.taboption('storage', form.Value, 'live_db', _('Live database'),
			_('Keep it on a RAM disk (/var or /tmp) so that frequent writes do not wear the flash.'));
		o.placeholder = '/var/lib/pakon/pakon.db';

		s = m.section(form.NamedSection, 'archive', 'archive', _('Archive'),
			_('Older history, aggregated as it ages, on persistent storage such as a USB disk.'));
		o = s.option(form.Value, 'path', _('Archive location'));
		o.placeholder = '/srv/pakon/pakon-archive.db';
		o = s.option(form.Value, 'keep', _('Keep history for'),
			_('Older connections are deleted so that the archive stops growing; 0 keeps everything.'));
		o.placeholder = '4w';
		o.validate = validDuration;
		o = s.option(form.Value, 'database_limit', _('Archive rows'), _('Most rows in the archive; the oldest go first.'));
		o.datatype = 'uinteger';
		o.placeholder = '10000000';

		s = m.section(form.GridSection, 'archive_rule', _('Archive rules'),
			_('As history ages it is merged: connections older than "after" to the same host and port that follow each other within "window" become one row; merged rows smaller than the threshold are dropped. Without rules, pakon uses 1d/60s, 3d/15m, 7d/30m and 14d/1h.'));
		s.anonymous = true;
		s.addremove = true;
		o = s.option(form.Value, 'up_to', _('After'));
		o.validate = validDuration;
		o.rmempty = false;
		o.editable = true;
		o = s.option(form.Value, 'window', _('Window'));
		o.validate = validDuration;
		o.rmempty = false;
		o.editable = true;
		o = s.option(form.Value, 'size_threshold', _('Drop below (bytes)'));
		o.datatype = 'uinteger';
		o.editable = true;

		s = m.section(form.NamedSection, 'lists', 'lists', _('Domain lists'),
			_('Lists in the pakon-lists format: replace lists merge a service\'s many domains into one name, ignore lists hide hosts such as ads and trackers.'));
		o = s.option(form.DynamicList, 'replace', _('Replace lists'));
		o.placeholder = '/usr/share/pakon/domains_replace';
		o = s.option(form.DynamicList, 'ignore', _('Ignore lists'));
		o.placeholder = '/usr/share/pakon/domains_ignore';

		s = m.section(form.NamedSection, 'alerts', 'alerts', _('IDS alerts'),
			_('Matches of Suricata\'s rules: how long they are kept and who is told about new ones.'));
		o = s.option(form.Value, 'keep', _('Keep alerts for'),
			_('After an alert was last seen; 0 keeps alerts forever.'));
		o.placeholder = '90d';
		o.validate = validDuration;
		o = s.option(form.Value, 'database_limit', _('Alert rows'),
			_('Most alert rows kept; the least recently seen go first.'));
		o.datatype = 'range(1,2147483647)';
		o.placeholder = '20000';
		o = s.option(form.ListValue, 'notify_severity', _('Notify from severity'),
			_('New alerts of at least this severity run the command or call the URL below.'));
		o.value('', _('never'));
		o.value('1', _('1 (high)'));
		o.value('2', _('2 (medium)'));
		o.value('3', _('3 (low)'));
		o.value('4', _('4 (informational)'));
		o = s.option(form.Value, 'notify_command', _('Notification command'),
			_('Run with the alert in its PAKON_ALERT_* environment.'));
		o.placeholder = '/usr/bin/my-alert-script';
		o.validate = function(section_id, value) {
			return (value == null || value === '' || value.charAt(0) == '/') ? true : _('Expecting an absolute path');
		};
		o = s.option(form.Value, 'notify_url', _('Notification URL'), _('The alert is POSTed to it as JSON.'));
		o.placeholder = 'https://example.org/hook';
		o.validate = function(section_id, value) {
			return (value == null || value === '' || /^https?:\/\/[^\/\s]+\S*$/.test(value)) ? true
				: _('Expecting an http:// or https:// URL');
		};
		o = s.option(form.Value, 'notify_interval', _('Notify at most every'),
			_('Per rule and device.'));
		o.placeholder = '10m';
		o.validate = validDuration;

		s = m.section(form.NamedSection, 'rules', 'rules', _('Alert rules'),
			_('The rules Suricata matches. The daily update fetches the sources and URLs, merges the local files and makes Suricata reload them. Large rule sets such as ET Open need several hundred MB of RAM.'));
		o = s.option(form.Flag, 'update', _('Update daily'));
		o = s.option(form.Value, 'directory', _('Rules directory'), _('Where suricata.rules is written, on persistent storage.'));
		o.placeholder = '/srv/pakon/rules';
		o = s.option(form.DynamicList, 'source', _('suricata-update sources'), _('Names from "suricata-update list-sources", such as et/open.'));
		o.validate = function(section_id, value) {
			return (value == null || value === '' || /^[^\s'"$`;&|-][^\s'"$`;&|]{0,63}$/.test(value)) ? true
				: _('Expecting a source name such as et/open');
		};
		o = s.option(form.DynamicList, 'url', _('Rule files by URL'), _('A name, a space and an http:// or https:// URL.'));
		o.validate = function(section_id, value) {
			return (value == null || value === '' || /^\S+\s+https?:\/\/\S+$/.test(value)) ? true
				: _('Expecting a name, a space and a URL');
		};
		o = s.option(form.DynamicList, 'local', _('Local rule files'), _('Absolute paths, merged in as they are.'));
		o.placeholder = '/etc/pakon/local.rules';

		this.statusTable = E('table', { 'class': 'table pakon-status', 'id': 'pakon-status' });
		this.renderStatus(status);
		poll.add(function() {
			return L.resolveDefault(callStatus(), null).then(L.bind(self.renderStatus, self));
		}, 5);

		return m.render().then(function(mapEl) {
			return E('div', { 'class': 'pakon' }, [
				E('link', { 'rel': 'stylesheet', 'href': L.resource('pakon/pakon.css') }),
				mapEl,
				E('div', { 'class': 'cbi-section' }, [
					E('h3', {}, [ _('Status') ]),
					E('div', { 'class': 'pakon-scroll' }, self.statusTable),
					E('div', { 'class': 'cbi-section-descr' }, [
						_('Clearing deletes every recorded connection from the live database and the archive. Device names are kept.')
					]),
					E('button', { 'class': 'cbi-button cbi-button-negative', 'id': 'pakon-clear',
						'click': ui.createHandlerFn(self, 'handleClear') }, [ _('Clear data…') ])
				])
			]);
		});
	},

	handleClear: function(ev) {
		var self = this;
		ui.showModal(_('Clear all data?'), [
			E('p', {}, [ _('This deletes all recorded connections of all devices, live and archived. It cannot be undone.') ]),
			E('div', { 'class': 'right' }, [
				E('button', { 'class': 'cbi-button', 'id': 'pakon-clear-cancel', 'click': ui.hideModal }, [ _('Cancel') ]), ' ',
				E('button', { 'class': 'cbi-button cbi-button-negative important', 'id': 'pakon-clear-confirm',
					'click': ui.createHandlerFn(this, function() {
						return callClear(true).then(function(res) {
							ui.hideModal();
							ui.addNotification(null, E('p', { 'id': 'pakon-cleared' },
								[ _('Deleted %d rows.').format((res && res.deleted) || 0) ]), 'info');
							return L.resolveDefault(callStatus(), null).then(L.bind(self.renderStatus, self));
						}).catch(function(err) {
							ui.hideModal();
							ui.addNotification(null, E('p', {}, [ _('Clearing failed: %s').format(err.message) ]), 'error');
						});
					}) }, [ _('Clear') ])
			])
		]);
	}
});
