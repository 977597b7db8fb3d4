'use strict';
'require rpc';
'require baseclass';

/*
 * LuCI stand-in: LuCI.uci — configs loaded through rpcd's uci object,
 * changes kept locally until save() sends them (delete, add, set) and
 * loads the configs again.
 */
var callLoad = rpc.declare({ object: 'uci', method: 'get', params: [ 'config' ], expect: { values: { } } }),
    callAdd = rpc.declare({ object: 'uci', method: 'add', params: [ 'config', 'type', 'name', 'values' ], expect: { section: '' } }),
    callSet = rpc.declare({ object: 'uci', method: 'set', params: [ 'config', 'section', 'values' ] }),
    callDelete = rpc.declare({ object: 'uci', method: 'delete', params: [ 'config', 'section', 'options' ] }),
    callApply = rpc.declare({ object: 'uci', method: 'apply', params: [ 'timeout', 'rollback' ] }),
    callConfirm = rpc.declare({ object: 'uci', method: 'confirm' });

return baseclass.extend({
	__init__: function() {
		this.state = { values: {}, creates: {}, changes: {}, deletes: {} };
		this.loaded = {};
		this.createCounter = 0;
	},

	createSID: function(conf) {
		return 'new%06x'.format(++this.createCounter);
	},

	load: function(packages) {
		var self = this, tasks = [];
		L.toArray(packages).forEach(function(p) {
			if (!self.loaded[p])
				tasks.push(callLoad(p).then(function(values) {
					self.state.values[p] = values;
					self.loaded[p] = true;
					return p;
				}));
		});
		return Promise.all(tasks);
	},

	unload: function(packages) {
		var self = this;
		L.toArray(packages).forEach(function(p) {
			delete self.state.values[p];
			delete self.state.creates[p];
			delete self.state.changes[p];
			delete self.state.deletes[p];
			delete self.loaded[p];
		});
	},

	add: function(conf, type, name) {
		var sid = name || this.createSID(conf), c = this.state.creates;
		c[conf] = c[conf] || {};
		c[conf][sid] = { '.type': type, '.name': sid, '.create': name, '.anonymous': !name, '.index': 1000 + this.createCounter };
		return sid;
	},

	remove: function(conf, sid) {
		var c = this.state.creates, d = this.state.deletes;
		if (c[conf] && c[conf][sid]) {
			delete c[conf][sid];
		}
		else {
			d[conf] = d[conf] || {};
			d[conf][sid] = true;
		}
	},

	sections: function(conf, type, cb) {
		var sa = [], v = this.state.values[conf] || {}, n = this.state.creates[conf] || {},
		    d = this.state.deletes[conf] || {};
		for (var s in v)
			if (d[s] !== true && (!type || v[s]['.type'] == type))
				sa.push(Object.assign({}, v[s], (this.state.changes[conf] || {})[s]));
		for (var s in n)
			if (!type || n[s]['.type'] == type)
				sa.push(Object.assign({}, n[s]));
		sa.sort(function(a, b) { return a['.index'] - b['.index']; });
		if (typeof(cb) == 'function')
			sa.forEach(function(s) { cb.call(this, s, s['.name']); }, this);
		return sa;
	},

	get: function(conf, sid, opt) {
		var v = this.state.values, n = this.state.creates, c = this.state.changes, d = this.state.deletes;
		if (sid == null)
			return null;
		if (n[conf] && n[conf][sid])
			return (opt == null) ? n[conf][sid] : n[conf][sid][opt];
		if (opt != null) {
			if (d[conf] && d[conf][sid] && (d[conf][sid] === true || d[conf][sid][opt]))
				return null;
			if (c[conf] && c[conf][sid] && c[conf][sid][opt] !== undefined)
				return c[conf][sid][opt];
			return (v[conf] && v[conf][sid]) ? v[conf][sid][opt] : undefined;
		}
		if (v[conf] && v[conf][sid])
			return Object.assign({}, v[conf][sid], (c[conf] || {})[sid]);
		return null;
	},

	set: function(conf, sid, opt, val) {
		var n = this.state.creates, c = this.state.changes, d = this.state.deletes;
		if (sid == null || opt == null || opt.charAt(0) == '.')
			return;
		if (n[conf] && n[conf][sid]) {
			if (val != null)
				n[conf][sid][opt] = val;
			else
				delete n[conf][sid][opt];
		}
		else if (val != null && val !== '') {
			if (d[conf] && d[conf][sid] && d[conf][sid] !== true)
				delete d[conf][sid][opt];
			c[conf] = c[conf] || {};
			c[conf][sid] = c[conf][sid] || {};
			c[conf][sid][opt] = val;
		}
		else {
			if (c[conf] && c[conf][sid])
				delete c[conf][sid][opt];
			d[conf] = d[conf] || {};
			d[conf][sid] = d[conf][sid] || {};
			if (d[conf][sid] !== true)
				d[conf][sid][opt] = true;
		}
	},

	unset: function(conf, sid, opt) { return this.set(conf, sid, opt, null); },

	get_first: function(conf, type, opt) {
		var s = this.sections(conf, type)[0];
		return s ? this.get(conf, s['.name'], opt) : null;
	},

	changes: function() {
		var n = 0, st = this.state;
		[ st.creates, st.changes, st.deletes ].forEach(function(m) {
			for (var conf in m)
				n += Object.keys(m[conf]).length;
		});
		return n;
	},

	save: function() {
		var st = this.state, tasks = [], pkgs = {}, conf, sid;
		for (conf in st.deletes) {
			for (sid in st.deletes[conf])
				tasks.push(callDelete(conf, sid, st.deletes[conf][sid] === true ? null : Object.keys(st.deletes[conf][sid])));
			pkgs[conf] = true;
		}
		for (conf in st.creates) {
			for (sid in st.creates[conf]) {
				var s = st.creates[conf][sid], values = {};
				for (var k in s)
					if (k.charAt(0) != '.')
						values[k] = s[k];
				tasks.push(callAdd(conf, s['.type'], s['.create'], values));
			}
			pkgs[conf] = true;
		}
		for (conf in st.changes) {
			for (sid in st.changes[conf])
				tasks.push(callSet(conf, sid, st.changes[conf][sid]));
			pkgs[conf] = true;
		}
		var self = this;
		return Promise.all(tasks).then(function() {
			pkgs = Object.keys(pkgs);
			self.unload(pkgs);
			return self.load(pkgs);
		});
	},

	apply: function(timeout) {
		return callApply(timeout, true).then(function() { return callConfirm(); });
	}
});
