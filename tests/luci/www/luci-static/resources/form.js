'use strict';
'require ui';
'require uci';
'require rpc';
'require dom';
'require baseclass';

/*
 * LuCI stand-in: LuCI.form's Map (tabbed), NamedSection, TypedSection,
 * GridSection (editable cells, add through a modal) and the Value,
 * ListValue, DynamicList, Flag and DummyValue options, with LuCI's markup
 * (cbi-map, cbi-section, cbi-value, ids "cbid.<config>.<section>.<option>"
 * and "widget.cbid…") and its parse/save rules (rmempty, optional, Flag
 * defaults). Option dependencies (depends) are not implemented.
 */

var callSessionAccess = rpc.declare({
	object: 'session', method: 'access', params: [ 'scope', 'object', 'function' ], expect: { 'access': false }
});

var isEqual = function(x, y) {
	if (Array.isArray(x) || Array.isArray(y))
		return Array.isArray(x) && Array.isArray(y) && x.length == y.length && x.every(function(v, i) { return v == y[i]; });
	return (x == null ? null : String(x)) === (y == null ? null : String(y));
};

var CBIAbstractElement = baseclass.extend({
	__init__: function(title, description) {
		this.title = title || '';
		this.description = description || '';
		this.children = [];
	},
	append: function(obj) { this.children.push(obj); },
	parse: function() {
		var args = arguments;
		return Promise.all(this.children.map(function(c) { return c.parse.apply(c, args); }));
	},
	loadChildren: function() {
		var args = arguments;
		return Promise.all(this.children.map(function(c) { return c.load.apply(c, args); }));
	},
	renderChildren: function(tab_name) {
		var tasks = [], index = 0, args = this.varargs(arguments, 1);
		for (var i = 0; i < this.children.length; i++)
			if (tab_name === null || this.children[i].tab === tab_name)
				tasks.push(this.children[i].render.apply(this.children[i], [ index++ ].concat(args)));
		return Promise.all(tasks);
	},
	stripTags: function(s) {
		var d = document.createElement('div');
		d.innerHTML = s || '';
		return d.textContent || '';
	}
});

var CBIMap = CBIAbstractElement.extend({
	__init__: function(config, title, description) {
		this.super('__init__', [ title, description ]);
		this.config = config;
		this.data = uci;
	},
	section: function(cbiClass) {
		var obj = cbiClass.instantiate(this.varargs(arguments, 1, this));
		this.append(obj);
		return obj;
	},
	load: function() {
		var self = this;
		return Promise.all([
			this.readonly != null ? this.readonly : callSessionAccess('uci', this.config, 'write'),
			this.data.load(this.config)
		]).then(function(res) {
			if (self.readonly == null && res[0] === false)
				self.readonly = true;
			return self.loadChildren();
		});
	},
	save: function(cb, silent) {
		var self = this;
		return this.parse()
			.then(cb)
			.then(function() { return self.data.save(); })
			.then(function() { return self.load(); })
			.catch(function(e) {
				if (!silent)
					ui.showModal(_('Save error'), [
						E('p', {}, [ _('An error occurred while saving the form:') ]),
						E('p', {}, [ E('em', { 'style': 'white-space:pre-wrap' }, [ e.message ]) ]),
						E('div', { 'class': 'right' }, [ E('button', { 'class': 'cbi-button', 'click': ui.hideModal }, [ _('Dismiss') ]) ])
					]);
				return Promise.reject(e);
			}).then(function() { return self.renderContents(); });
	},
	reset: function() { return this.renderContents(); },
	render: function() {
		return this.load().then(this.renderContents.bind(this));
	},
	renderContents: function() {
		var mapEl = this.root || (this.root = E('div', { 'id': 'cbi-%s'.format(this.config), 'class': 'cbi-map' }));
		dom.bindClassInstance(mapEl, this);
		return this.renderChildren(null).then(L.bind(function(nodes) {
			dom.content(mapEl, null);
			if (this.title)
				mapEl.appendChild(E('h2', { 'name': 'content' }, this.title));
			if (this.description)
				mapEl.appendChild(E('div', { 'class': 'cbi-map-descr' }, this.description));
			if (this.tabbed)
				dom.append(mapEl, E('div', { 'class': 'cbi-map-tabbed' }, nodes));
			else
				dom.append(mapEl, nodes);
			mapEl.querySelectorAll('.cbi-map-tabbed, .cbi-section-node-tabbed').forEach(function(g) {
				ui.tabs.initTabGroup(g.childNodes);
			});
			return mapEl;
		}, this));
	},
	checkDepends: function() {}
});

var CBIAbstractSection = CBIAbstractElement.extend({
	__init__: function(map, sectionType, title, description) {
		this.super('__init__', [ title, description ]);
		this.sectiontype = sectionType;
		this.map = map;
		this.config = map.config;
		this.optional = true;
		this.addremove = false;
	},
	cfgsections: function() { L.error('InternalError', 'Not implemented'); },
	filter: function(section_id) { return true; },
	load: function() {
		var self = this;
		return Promise.all(this.cfgsections().map(function(sid) {
			return self.loadChildren(sid).then(function(values) {
				values.forEach(function(v, i) { self.children[i].cfgvalue(sid, v); });
			});
		}));
	},
	parse: function() {
		var tasks = [], self = this;
		this.cfgsections().forEach(function(sid) {
			self.children.forEach(function(c) { tasks.push(c.parse(sid)); });
		});
		return Promise.all(tasks);
	},
	tab: function(name, title, description) {
		if (this.tabs && this.tabs[name])
			throw 'Tab already declared';
		var entry = { name: name, title: title, description: description, children: [] };
		this.tabs = this.tabs || [];
		this.tabs.push(entry);
		this.tabs[name] = entry;
		this.tab_names = this.tab_names || [];
		this.tab_names.push(name);
	},
	option: function(cbiClass) {
		if (!CBIAbstractValue.isSubclass(cbiClass))
			throw L.error('TypeError', 'Class must be a descendant of CBIAbstractValue');
		var obj = cbiClass.instantiate(this.varargs(arguments, 1, this.map, this));
		this.append(obj);
		return obj;
	},
	taboption: function(tabName) {
		if (!this.tabs || !this.tabs[tabName])
			throw L.error('ReferenceError', 'Associated tab not declared');
		var obj = this.option.apply(this, this.varargs(arguments, 1));
		obj.tab = tabName;
		this.tabs[tabName].children.push(obj);
		return obj;
	},
	cfgvalue: function(section_id, option) {
		for (var i = 0; i < this.children.length; i++)
			if (this.children[i].option == option)
				return this.children[i].cfgvalue(section_id);
		return null;
	},
	formvalue: function(section_id, option) {
		for (var i = 0; i < this.children.length; i++)
			if (this.children[i].option == option)
				return this.children[i].formvalue(section_id);
		return null;
	},
	getOption: function(option) {
		return this.children.filter(function(c) { return c.option == option; })[0] || null;
	},
	renderUCISection: function(section_id) {
		if (!this.tabs)
			return this.renderOptions(null, section_id);
		var self = this;
		return Promise.all(this.tab_names.map(function(t) { return self.renderOptions(t, section_id); }))
			.then(function(nodes) {
				var els = E([]);
				nodes.forEach(function(n, i) {
					var tab = self.tabs[self.tab_names[i]];
					var el = E('div', { 'id': 'container.%s.%s.%s'.format(self.config, section_id, tab.name),
					                    'data-tab': tab.name, 'data-tab-title': tab.title });
					if (tab.description)
						el.appendChild(E('div', { 'class': 'cbi-tab-descr' }, tab.description));
					el.appendChild(n);
					els.appendChild(el);
				});
				return els;
			});
	},
	renderOptions: function(tab_name, section_id) {
		var in_table = (this instanceof CBITableSection);
		return this.renderChildren(tab_name, section_id, in_table).then(function(nodes) {
			var els = E([]);
			nodes.forEach(function(n) { els.appendChild(n); });
			return els;
		});
	},
	sectionAttrs: function(id, cls) {
		return {
			'id': id, 'class': cls,
			'data-tab': this.map.tabbed ? this.sectiontype : null,
			'data-tab-title': this.map.tabbed ? (this.title || this.sectiontype) : null
		};
	}
});

var CBITypedSection = CBIAbstractSection.extend({
	__name__: 'CBI.TypedSection',
	cfgsections: function() {
		return this.map.data.sections(this.map.config, this.sectiontype)
			.map(function(s) { return s['.name']; })
			.filter(L.bind(this.filter, this));
	},
	handleAdd: function(ev, name) {
		this.map.data.add(this.map.config, this.sectiontype, name);
		return this.map.save(null, true);
	},
	handleRemove: function(section_id, ev) {
		this.map.data.remove(this.map.config, section_id);
		return this.map.save(null, true);
	},
	renderSectionAdd: function(extra_class) {
		if (!this.addremove)
			return E([]);
		return E('div', { 'class': 'cbi-section-create' + (extra_class ? ' ' + extra_class : '') }, [
			E('button', { 'class': 'cbi-button cbi-button-add', 'title': this.addbtntitle || _('Add'),
				'click': ui.createHandlerFn(this, 'handleAdd'), 'disabled': this.map.readonly || null },
				[ this.addbtntitle || _('Add') ])
		]);
	},
	renderSectionPlaceholder: function() {
		return E('em', _('This section contains no values yet'));
	},
	render: function() {
		var sids = this.cfgsections(), self = this;
		return Promise.all(sids.map(function(s) { return self.renderUCISection(s); }))
			.then(this.renderContents.bind(this, sids));
	},
	renderContents: function(sids, nodes) {
		var el = E('div', this.sectionAttrs('cbi-%s-%s'.format(this.config, this.sectiontype), 'cbi-section'));
		if (this.title)
			el.appendChild(E('h3', {}, this.title));
		if (this.description)
			el.appendChild(E('div', { 'class': 'cbi-section-descr' }, this.description));
		for (var i = 0; i < nodes.length; i++)
			el.appendChild(E('div', { 'id': 'cbi-%s-%s'.format(this.config, sids[i]),
				'class': this.tabs ? 'cbi-section-node cbi-section-node-tabbed' : 'cbi-section-node',
				'data-section-id': sids[i] }, nodes[i]));
		if (!nodes.length)
			el.appendChild(this.renderSectionPlaceholder());
		el.appendChild(this.renderSectionAdd());
		dom.bindClassInstance(el, this);
		return el;
	}
});

var CBITableSection = CBITypedSection.extend({
	__name__: 'CBI.TableSection',
	renderContents: function(sids, nodes) {
		var el = E('div', this.sectionAttrs('cbi-%s-%s'.format(this.config, this.sectiontype), 'cbi-section cbi-tblsection')),
		    table = E('table', { 'class': 'table cbi-section-table' }),
		    head = E('tr', { 'class': 'tr cbi-section-table-titles anonymous' });
		if (this.title)
			el.appendChild(E('h3', {}, this.title));
		if (this.description)
			el.appendChild(E('div', { 'class': 'cbi-section-descr' }, this.description));
		this.children.forEach(function(o) {
			if (!o.modalonly)
				head.appendChild(E('th', { 'class': 'th cbi-section-table-cell', 'data-widget': o.__name__ }, o.title));
		});
		head.appendChild(E('th', { 'class': 'th cbi-section-table-cell cbi-section-actions' }));
		table.appendChild(head);
		for (var i = 0; i < nodes.length; i++) {
			var tr = E('tr', { 'id': 'cbi-%s-%s'.format(this.config, sids[i]), 'class': 'tr cbi-section-table-row',
			                   'data-sid': sids[i], 'data-section-id': sids[i] });
			while (nodes[i].firstChild)
				tr.appendChild(nodes[i].firstChild);
			tr.appendChild(this.renderRowActions(sids[i]));
			table.appendChild(tr);
		}
		if (!nodes.length)
			table.appendChild(E('tr', { 'class': 'tr cbi-section-table-row placeholder' },
				E('td', { 'class': 'td' }, this.renderSectionPlaceholder())));
		el.appendChild(table);
		el.appendChild(this.renderSectionAdd('cbi-tblsection-create'));
		dom.bindClassInstance(el, this);
		return el;
	},
	renderRowActions: function(section_id) {
		var td = E('td', { 'class': 'td cbi-section-table-cell nowrap cbi-section-actions' }, E('div'));
		if (this.addremove)
			td.firstChild.appendChild(E('button', { 'class': 'cbi-button cbi-button-remove', 'title': _('Delete'),
				'click': ui.createHandlerFn(this, 'handleRemove', section_id), 'disabled': this.map.readonly || null }, [ _('Delete') ]));
		return td;
	}
});

var CBIGridSection = CBITableSection.extend({
	__name__: 'CBI.GridSection',
	renderChildren: function(tab_name, section_id, in_table) {
		var tasks = [], index = 0;
		for (var i = 0, opt; (opt = this.children[i]) != null; i++) {
			if (opt.modalonly)
				continue;
			if (opt.editable)
				tasks.push(opt.render(index++, section_id, in_table));
			else
				tasks.push(E('td', { 'class': 'td cbi-value-field', 'data-title': this.stripTags(opt.title), 'data-name': opt.option },
					[ opt.textvalue(section_id) != null ? opt.textvalue(section_id) : E('em', _('none')) ]));
		}
		return Promise.all(tasks);
	},
	parse: function() {
		var tasks = [], self = this;
		this.cfgsections().forEach(function(sid) {
			self.children.forEach(function(c) {
				if (c.editable && !c.modalonly)
					tasks.push(c.parse(sid));
			});
		});
		return Promise.all(tasks);
	},
	/* Like LuCI: a new section is edited in a modal holding a NamedSection. */
	handleAdd: function(ev) {
		var sid = this.map.data.add(this.map.config, this.sectiontype), parent = this.map, self = this,
		    m = new CBIMap(this.map.config, null, null), s = m.section(CBINamedSection, sid, this.sectiontype);
		m.readonly = parent.readonly;
		this.children.forEach(function(o1) {
			var o2 = s.option(o1.constructor, o1.option, o1.title, o1.description);
			for (var k in o1)
				if (o1.hasOwnProperty(k) && [ 'map', 'section', 'option', 'title', 'description', 'data' ].indexOf(k) == -1)
					o2[k] = o1[k];
		});
		return m.render().then(function(node) {
			ui.showModal(parent.title || _('Add'), [
				node,
				E('div', { 'class': 'right' }, [
					E('button', { 'class': 'cbi-button', 'click': function() {
						parent.data.remove(parent.config, sid);
						ui.hideModal();
					} }, [ _('Dismiss') ]), ' ',
					E('button', { 'class': 'cbi-button cbi-button-positive important', 'click': ui.createHandlerFn(self, function() {
						return m.save(null, true).then(function() { ui.hideModal(); return parent.load(); })
							.then(function() { return parent.reset(); })
							.catch(function(e) { ui.addNotification(null, E('p', {}, [ e.message ]), 'error'); });
					}) }, [ _('Save') ])
				])
			], 'cbi-modal');
		});
	}
});

var CBINamedSection = CBIAbstractSection.extend({
	__name__: 'CBI.NamedSection',
	__init__: function(map, section_id) {
		this.super('__init__', this.varargs(arguments, 2, map));
		this.section = section_id;
	},
	cfgsections: function() { return [ this.section ]; },
	render: function() {
		return Promise.all([ this.map.data.get(this.map.config, this.section), this.renderUCISection(this.section) ])
			.then(this.renderContents.bind(this));
	},
	renderContents: function(data) {
		var el = E('div', this.sectionAttrs(data[0] ? null : 'cbi-%s-%s'.format(this.config, this.section), 'cbi-section'));
		if (this.title)
			el.appendChild(E('h3', {}, this.title));
		if (this.description)
			el.appendChild(E('div', { 'class': 'cbi-section-descr' }, this.description));
		if (data[0])
			el.appendChild(E('div', { 'id': 'cbi-%s-%s'.format(this.config, this.section),
				'class': this.tabs ? 'cbi-section-node cbi-section-node-tabbed' : 'cbi-section-node',
				'data-section-id': this.section }, data[1]));
		dom.bindClassInstance(el, this);
		return el;
	}
});

var CBIAbstractValue = CBIAbstractElement.extend({
	__init__: function(map, section, option, title, description) {
		this.super('__init__', [ title, description ]);
		this.section = section;
		this.option = option;
		this.map = map;
		this.config = map.config;
		this.rmempty = true;
		this.default = null;
		this.optional = false;
	},
	depends: function() {},
	cbid: function(section_id) {
		return 'cbid.%s.%s.%s'.format(this.map.config, section_id, this.option);
	},
	load: function(section_id) {
		return this.map.data.get(this.map.config, this.ucisection || section_id, this.ucioption || this.option);
	},
	cfgvalue: function(section_id, set_value) {
		if (arguments.length == 2) {
			this.data = this.data || {};
			this.data[section_id] = set_value;
		}
		return this.data ? this.data[section_id] : null;
	},
	getUIElement: function(section_id) {
		var node = this.map.root ? this.map.root.querySelector('[id="%s"]'.format(this.cbid(section_id))) : null;
		if (!node)
			node = document.querySelector('.modal [id="%s"]'.format(this.cbid(section_id)));
		var inst = node ? dom.findClassInstance(node) : null;
		return (inst instanceof ui.AbstractElement) ? inst : null;
	},
	formvalue: function(section_id) {
		var elem = this.getUIElement(section_id);
		return elem ? elem.getValue() : null;
	},
	textvalue: function(section_id) {
		var cval = this.cfgvalue(section_id);
		if (cval == null)
			cval = this.default;
		if (Array.isArray(cval))
			cval = cval.join(' ');
		return (cval != null) ? String(cval) : null;
	},
	validate: function(section_id, value) { return true; },
	isValid: function(section_id) {
		var elem = this.getUIElement(section_id);
		return elem ? elem.triggerValidation() : true;
	},
	isActive: function(section_id) { return this.getUIElement(section_id) != null; },
	parse: function(section_id) {
		if (!this.isActive(section_id))
			return Promise.resolve();
		if (!this.isValid(section_id)) {
			var title = this.stripTags(this.title).trim();
			return Promise.reject(new TypeError(_('Option "%s" contains an invalid input value.').format(title || this.option) +
				' ' + this.getUIElement(section_id).getValidationError()));
		}
		var cval = this.cfgvalue(section_id), fval = this.formvalue(section_id);
		if (fval == null || fval == '' || (Array.isArray(fval) && !fval.length)) {
			if (this.rmempty || this.optional)
				return Promise.resolve(this.remove(section_id));
			return Promise.reject(new TypeError(_('Option "%s" must not be empty.').format(this.stripTags(this.title).trim() || this.option)));
		}
		if (this.forcewrite || !isEqual(cval, fval))
			return Promise.resolve(this.write(section_id, fval));
		return Promise.resolve();
	},
	write: function(section_id, formvalue) {
		return this.map.data.set(this.map.config, this.ucisection || section_id, this.ucioption || this.option, formvalue);
	},
	remove: function(section_id) {
		return this.map.data.unset(this.map.config, this.ucisection || section_id, this.ucioption || this.option);
	}
});

var CBIValue = CBIAbstractValue.extend({
	__name__: 'CBI.Value',
	value: function(key, val) {
		this.keylist = this.keylist || [];
		this.keylist.push(String(key));
		this.vallist = this.vallist || [];
		this.vallist.push(val != null ? val : String(key));
	},
	transformChoices: function() {
		if (!this.keylist)
			return null;
		var c = {};
		for (var i = 0; i < this.keylist.length; i++)
			c[this.keylist[i]] = this.vallist[i];
		return c;
	},
	render: function(option_index, section_id, in_table) {
		return Promise.resolve(this.cfgvalue(section_id))
			.then(this.renderWidget.bind(this, section_id, option_index))
			.then(this.renderFrame.bind(this, section_id, in_table, option_index));
	},
	renderFrame: function(section_id, in_table, option_index, nodes) {
		var el;
		if (in_table) {
			el = E('td', { 'class': 'td cbi-value-field', 'data-title': this.stripTags(this.title).trim() || null,
			               'data-name': this.option, 'data-widget': this.__name__ },
				E('div', { 'id': 'cbi-%s-%s-%s'.format(this.config, section_id, this.option), 'data-index': option_index,
				           'data-field': this.cbid(section_id) }));
		}
		else {
			el = E('div', { 'class': 'cbi-value', 'id': 'cbi-%s-%s-%s'.format(this.config, section_id, this.option),
			                'data-index': option_index, 'data-field': this.cbid(section_id), 'data-name': this.option,
			                'data-widget': this.__name__ });
			if (this.title) {
				el.appendChild(E('label', { 'class': 'cbi-value-title', 'for': 'widget.' + this.cbid(section_id) }, this.title));
				el.appendChild(E('div', { 'class': 'cbi-value-field' }));
			}
		}
		if (nodes)
			(el.lastChild || el).appendChild(nodes);
		if (!in_table && this.description)
			dom.append(el.lastChild || el, E('div', { 'class': 'cbi-value-description' }, this.description.trim()));
		dom.bindClassInstance(el, this);
		return el;
	},
	renderWidget: function(section_id, option_index, cfgvalue) {
		var value = (cfgvalue != null) ? cfgvalue : this.default;
		return new ui.Textfield(Array.isArray(value) ? value.join(' ') : value, {
			id: this.cbid(section_id), password: this.password, optional: this.optional || this.rmempty,
			datatype: this.datatype, placeholder: this.placeholder, validate: L.bind(this.validate, this, section_id),
			disabled: (this.readonly != null) ? this.readonly : this.map.readonly
		}).render();
	}
});

var CBIDynamicList = CBIValue.extend({
	__name__: 'CBI.DynamicList',
	renderWidget: function(section_id, option_index, cfgvalue) {
		var value = (cfgvalue != null) ? cfgvalue : this.default;
		return new ui.DynamicList(L.toArray(value), this.transformChoices(), {
			id: this.cbid(section_id), optional: this.optional || this.rmempty, datatype: this.datatype,
			placeholder: this.placeholder, validate: L.bind(this.validate, this, section_id)
		}).render();
	}
});

var CBIListValue = CBIValue.extend({
	__name__: 'CBI.ListValue',
	renderWidget: function(section_id, option_index, cfgvalue) {
		return new ui.Select((cfgvalue != null) ? cfgvalue : this.default, this.transformChoices(), {
			id: this.cbid(section_id), sort: this.keylist, optional: this.optional, placeholder: this.placeholder,
			disabled: (this.readonly != null) ? this.readonly : this.map.readonly
		}).render();
	}
});

var CBIFlagValue = CBIValue.extend({
	__name__: 'CBI.FlagValue',
	__init__: function() {
		this.super('__init__', arguments);
		this.enabled = '1';
		this.disabled = '0';
		this.default = this.disabled;
	},
	renderWidget: function(section_id, option_index, cfgvalue) {
		return new ui.Checkbox((cfgvalue != null) ? cfgvalue : this.default, {
			id: this.cbid(section_id), value_enabled: this.enabled, value_disabled: this.disabled,
			disabled: (this.readonly != null) ? this.readonly : this.map.readonly
		}).render();
	},
	formvalue: function(section_id) {
		var elem = this.getUIElement(section_id);
		return (elem && elem.isChecked()) ? this.enabled : this.disabled;
	},
	textvalue: function(section_id) {
		var cval = this.cfgvalue(section_id);
		return ((cval != null ? cval : this.default) == this.enabled) ? _('Yes') : _('No');
	},
	parse: function(section_id) {
		if (!this.isActive(section_id))
			return Promise.resolve();
		var fval = this.formvalue(section_id);
		if (fval == this.default && (this.optional || this.rmempty))
			return Promise.resolve(this.remove(section_id));
		return Promise.resolve(this.write(section_id, fval));
	}
});

var CBIDummyValue = CBIValue.extend({
	__name__: 'CBI.DummyValue',
	renderWidget: function(section_id, option_index, cfgvalue) {
		var value = (cfgvalue != null) ? cfgvalue : this.default;
		return E('div', { 'id': this.cbid(section_id) }, this.rawhtml ? value : [ value ]);
	},
	remove: function() {},
	write: function() {}
});

return baseclass.extend({
	Map: CBIMap,
	AbstractSection: CBIAbstractSection,
	TypedSection: CBITypedSection,
	TableSection: CBITableSection,
	GridSection: CBIGridSection,
	NamedSection: CBINamedSection,
	AbstractValue: CBIAbstractValue,
	Value: CBIValue,
	DynamicList: CBIDynamicList,
	ListValue: CBIListValue,
	Flag: CBIFlagValue,
	DummyValue: CBIDummyValue
});
