'use strict';
'require baseclass';
'require dom';
'require uci';

/*
 * LuCI stand-in: the LuCI.ui pieces luci-app-pakon uses — modal,
 * notifications, handler functions, tab groups, uci change apply, and the
 * input widgets form.js builds on (Textfield, Select, Checkbox,
 * DynamicList, Hiddenfield) with a small datatype validator.
 */

/* A few of LuCI.validation's datatypes; unknown ones accept anything. */
var datatypes = {
	integer: function(v) { return /^-?[0-9]+$/.test(v); },
	uinteger: function(v) { return /^[0-9]+$/.test(v); },
	ipaddr: function(v) { return datatypes.ip4addr(v) || datatypes.ip6addr(v); },
	ip4addr: function(v) { return /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(v); },
	ip6addr: function(v) { return /^[0-9a-fA-F:]+$/.test(v) && v.indexOf(':') != -1; },
	cidr: function(v) {
		var m = /^(.+)\/(\d{1,3})$/.exec(v);
		return !!m && ((datatypes.ip4addr(m[1]) && +m[2] <= 32) || (datatypes.ip6addr(m[1]) && +m[2] <= 128));
	},
	network: function(v) { return /^[a-zA-Z0-9_.-]+$/.test(v); },
	string: function(v) { return true; }
};

function checkDatatype(type, value) {
	if (!type || value == null || value === '')
		return true;
	var m = /^range\((-?\d+),\s*(-?\d+)\)$/.exec(type);
	if (m)
		return datatypes.integer(value) && +value >= +m[1] && +value <= +m[2];
	var fn = datatypes[type];
	return fn ? fn(String(value)) : true;
}

var UIElement = baseclass.extend({
	__init__: function(value, options) {
		this.value = value;
		this.options = Object.assign({}, options);
	},
	getValue: function() {
		return dom.elem(this.node) ? this.node.querySelector('input, select').value : null;
	},
	setValue: function(value) {
		if (dom.elem(this.node))
			this.node.querySelector('input, select').value = value;
	},
	isValid: function() { return (this.validState !== false); },
	getValidationError: function() { return this.validError || ''; },
	triggerValidation: function() {
		var value = this.getValue(), values = Array.isArray(value) ? value : [ value ], msg = null;
		if (!this.options.optional && values.every(function(v) { return v == null || v === ''; }) && this.options.validateEmpty)
			msg = _('Expecting: %s').format(_('non-empty value'));
		for (var i = 0; msg == null && i < values.length; i++) {
			if (!checkDatatype(this.options.datatype, values[i]))
				msg = _('Expecting: %s').format(this.options.datatype);
			else if (typeof(this.options.validate) == 'function' && values[i] !== '' && values[i] != null) {
				var r = this.options.validate(values[i]);
				if (r !== true)
					msg = String(r);
			}
		}
		this.validState = (msg == null);
		this.validError = msg;
		var input = this.node ? this.node.querySelector('input:not([type=hidden]), select') : null;
		if (input) {
			input.classList.toggle('cbi-input-invalid', msg != null);
			if (msg != null)
				input.setAttribute('title', msg);
			else
				input.removeAttribute('title');
		}
		return this.validState;
	},
	bind: function(node) {
		this.node = node;
		dom.bindClassInstance(node, this);
		var self = this;
		node.addEventListener('input', function() { self.triggerValidation(); });
		node.addEventListener('change', function() {
			self.triggerValidation();
			node.setAttribute('data-changed', 'true');
			node.dispatchEvent(new CustomEvent('widget-change', { bubbles: true }));
		});
		return node;
	}
});

var Textfield = UIElement.extend({
	render: function() {
		var frame = E('div', { 'id': this.options.id });
		frame.appendChild(E('input', {
			'id': this.options.id ? 'widget.' + this.options.id : null,
			'type': this.options.password ? 'password' : 'text',
			'class': 'cbi-input-text',
			'placeholder': this.options.placeholder,
			'disabled': this.options.disabled ? '' : null,
			'value': (this.value != null) ? this.value : ''
		}));
		this.bind(frame);
		this.triggerValidation();
		return frame;
	}
});

var Hiddenfield = UIElement.extend({
	render: function() {
		return this.bind(E('input', { 'type': 'hidden', 'id': this.options.id, 'value': this.value != null ? this.value : '' }));
	},
	getValue: function() { return this.node.value; }
});

var Select = UIElement.extend({
	__init__: function(value, choices, options) {
		this.super('__init__', [ value, options ]);
		this.choices = choices || {};
	},
	render: function() {
		var keys = this.options.sort || Object.keys(this.choices),
		    sel = E('select', { 'id': this.options.id ? 'widget.' + this.options.id : null, 'class': 'cbi-input-select',
		                        'disabled': this.options.disabled ? '' : null });
		if (this.options.optional)
			sel.appendChild(E('option', { 'value': '' }, [ this.options.placeholder || _('-- Please choose --') ]));
		for (var i = 0; i < keys.length; i++)
			sel.appendChild(E('option', { 'value': keys[i], 'selected': (keys[i] == this.value) ? '' : null },
				[ this.choices[keys[i]] != null ? this.choices[keys[i]] : keys[i] ]));
		var frame = E('div', { 'id': this.options.id }, sel);
		this.bind(frame);
		return frame;
	}
});

var Checkbox = UIElement.extend({
	render: function() {
		var frame = E('div', { 'id': this.options.id }, [
			E('input', {
				'id': this.options.id ? 'widget.' + this.options.id : null,
				'type': 'checkbox',
				'value': this.options.value_enabled || '1',
				'checked': (this.value == (this.options.value_enabled || '1')) ? '' : null,
				'disabled': this.options.disabled ? '' : null
			}),
			E('label', { 'for': this.options.id ? 'widget.' + this.options.id : null })
		]);
		this.bind(frame);
		return frame;
	},
	isChecked: function() { return this.node.querySelector('input[type=checkbox]').checked; },
	getValue: function() {
		return this.isChecked() ? (this.options.value_enabled || '1') : (this.options.value_disabled || '0');
	},
	setValue: function(v) { this.node.querySelector('input[type=checkbox]').checked = (v == (this.options.value_enabled || '1')); }
});

/* Items shown as .item rows with a remove button, one text input to add more. */
var DynamicList = UIElement.extend({
	__init__: function(values, choices, options) {
		this.super('__init__', [ L.toArray(values), options ]);
		this.choices = choices;
	},
	render: function() {
		var frame = E('div', { 'id': this.options.id, 'class': 'cbi-dynlist' }),
		    input = E('input', { 'type': 'text', 'class': 'cbi-input-text', 'placeholder': this.options.placeholder,
		                         'id': this.options.id ? 'widget.' + this.options.id : null }),
		    self = this;
		this.value.forEach(function(v) { frame.appendChild(self.renderItem(v)); });
		frame.appendChild(E('div', { 'class': 'add-item' }, [
			input,
			E('button', { 'class': 'cbi-button cbi-button-add', 'type': 'button', 'click': function(ev) { self.addFromInput(input); } }, [ '+' ])
		]));
		input.addEventListener('keydown', function(ev) {
			if (ev.key == 'Enter') {
				ev.preventDefault();
				self.addFromInput(input);
			}
		});
		this.node = frame;
		dom.bindClassInstance(frame, this);
		return frame;
	},
	renderItem: function(v) {
		var self = this;
		return E('div', { 'class': 'item', 'data-value': v }, [
			E('span', {}, [ v ]),
			E('button', { 'class': 'cbi-button cbi-button-remove', 'type': 'button', 'title': _('Remove'),
				'click': function(ev) {
					ev.currentTarget.parentNode.remove();
					self.changed();
				} }, [ '×' ])
		]);
	},
	addFromInput: function(input) {
		var v = input.value.trim();
		if (v === '')
			return;
		if (!checkDatatype(this.options.datatype, v) ||
		    (typeof(this.options.validate) == 'function' && this.options.validate(v) !== true)) {
			input.classList.add('cbi-input-invalid');
			return;
		}
		input.classList.remove('cbi-input-invalid');
		if (this.getValue().indexOf(v) == -1)
			this.node.insertBefore(this.renderItem(v), this.node.querySelector('.add-item'));
		input.value = '';
		this.changed();
	},
	changed: function() {
		this.node.setAttribute('data-changed', 'true');
		this.node.dispatchEvent(new CustomEvent('widget-change', { bubbles: true }));
	},
	getValue: function() {
		var out = [];
		this.node.querySelectorAll('.item').forEach(function(i) { out.push(i.getAttribute('data-value')); });
		return out;
	},
	isValid: function() { return true; },
	triggerValidation: function() { return true; }
});

var modalOverlay = null;

return baseclass.extend({
	AbstractElement: UIElement,
	Textfield: Textfield,
	Hiddenfield: Hiddenfield,
	Select: Select,
	Checkbox: Checkbox,
	DynamicList: DynamicList,

	showModal: function(title, children) {
		if (!modalOverlay)
			modalOverlay = document.body.appendChild(E('div', { 'id': 'modal_overlay' },
				E('div', { 'class': 'modal', 'role': 'dialog', 'aria-modal': 'true' })));
		var dlg = modalOverlay.firstElementChild;
		dlg.setAttribute('class', 'modal');
		for (var i = 2; i < arguments.length; i++)
			dlg.classList.add(arguments[i]);
		dom.content(dlg, dom.create('h4', {}, [ title ]));
		dom.append(dlg, children);
		document.body.classList.add('modal-overlay-active');
		return dlg;
	},

	hideModal: function() {
		document.body.classList.remove('modal-overlay-active');
	},

	addNotification: function(title, children) {
		var mc = document.querySelector('#maincontent') || document.body,
		    msg = E('div', { 'class': 'alert-message fade-in', 'style': 'display:flex' }, [
			    E('div', { 'style': 'flex:10' }),
			    E('div', { 'style': 'flex:1 1 auto; display:flex' },
				    E('button', { 'class': 'btn', 'style': 'margin-left:auto; margin-top:auto',
					    'click': function(ev) { dom.parent(ev.target, '.alert-message').remove(); } }, [ _('Dismiss') ]))
		    ]);
		if (title != null)
			dom.append(msg.firstElementChild, E('h4', {}, [ title ]));
		dom.append(msg.firstElementChild, children);
		for (var i = 2; i < arguments.length; i++)
			msg.classList.add(arguments[i]);
		mc.insertBefore(msg, mc.firstElementChild);
		return msg;
	},

	createHandlerFn: function(ctx, fn) {
		if (typeof(fn) == 'string')
			fn = ctx[fn];
		if (typeof(fn) != 'function')
			return null;
		var argv = this.varargs(arguments, 2);
		return function(ev) {
			var res = fn.apply(ctx, argv.concat([ ev ]));
			var t = ev ? ev.currentTarget : null;
			if (!res || typeof(res.then) != 'function' || !t)
				return res;
			t.classList.add('spinning');
			t.disabled = true;
			return Promise.resolve(res).finally(function() {
				t.classList.remove('spinning');
				t.disabled = false;
			});
		};
	},

	tabs: {
		initTabGroup: function(panes) {
			panes = Array.prototype.filter.call(panes, function(p) { return dom.matches(p, '[data-tab]'); });
			if (!panes.length)
				return;
			var menu = E('ul', { 'class': 'cbi-tabmenu' }), group = panes[0].parentNode, selected = 0;
			panes.forEach(function(pane, i) {
				if (pane.getAttribute('data-tab-active') === 'true')
					selected = i;
			});
			panes.forEach(function(pane, i) {
				pane.setAttribute('data-tab-active', String(i == selected));
				menu.appendChild(E('li', { 'class': (i == selected) ? 'cbi-tab' : 'cbi-tab-disabled', 'data-tab': pane.getAttribute('data-tab') },
					E('a', { 'href': '#', 'click': function(ev) {
						ev.preventDefault();
						menu.querySelectorAll('li').forEach(function(li, j) { li.className = (j == i) ? 'cbi-tab' : 'cbi-tab-disabled'; });
						panes.forEach(function(p, j) { p.setAttribute('data-tab-active', String(j == i)); });
					} }, [ pane.getAttribute('data-tab-title') ])));
			});
			group.parentNode.insertBefore(menu, group);
		},
		updateTabs: function() {}
	},

	changes: {
		/* LuCI applies with rollback and confirms; the stand-in's uci commits at once. */
		apply: function(checked) {
			return uci.apply(10).then(function() {
				document.dispatchEvent(new CustomEvent('uci-applied'));
				window.location.reload();
			});
		}
	},

	instantiateView: function(path) {
		var className = 'view.%s'.format(path.replace(/\//g, '.'));
		return L.require(className).then(function(view) {
			if (!(view instanceof L.view))
				throw new TypeError('Loaded class %s is not a descendant of View'.format(className));
			return view;
		}).catch(function(err) {
			L.error(err);
		});
	}
});
