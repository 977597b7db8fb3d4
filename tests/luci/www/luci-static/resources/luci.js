/*
 * LuCI stand-in: the part of LuCI's client runtime (luci.js) that
 * luci-app-pakon uses, written from LuCI's documentation for the tests in
 * tests/luci. Deviations are listed in tests/luci/README.md.
 */
(function(window, document) {
	'use strict';

	/* Class: extend / __init__ / super / varargs, as LuCI.baseclass. */
	var Class = Object.assign(function() {}, {
		extend: function(properties) {
			var props = {
				__base__: { value: this.prototype },
				__name__: { value: properties.__name__ || 'anonymous' }
			};
			var ClassConstructor = function() {
				if (!(this instanceof ClassConstructor))
					throw new TypeError('Constructor must not be called without "new"');
				var proto = Object.getPrototypeOf(this);
				while (proto && !proto.hasOwnProperty('__init__'))
					proto = Object.getPrototypeOf(proto);
				if (proto && typeof(proto.__init__) == 'function')
					proto.__init__.apply(this, arguments);
			};
			for (var key in properties)
				if (!props[key] && properties.hasOwnProperty(key))
					props[key] = { value: properties[key], writable: true };
			ClassConstructor.prototype = Object.create(this.prototype, props);
			ClassConstructor.prototype.constructor = ClassConstructor;
			Object.assign(ClassConstructor, this);
			ClassConstructor.displayName = props.__name__.value;
			return ClassConstructor;
		},
		singleton: function(properties) {
			return Class.extend(properties).instantiate(Class.prototype.varargs(arguments, 1));
		},
		instantiate: function(args) {
			return new (Function.prototype.bind.apply(this, Class.prototype.varargs(args, 0, null)))();
		},
		isSubclass: function(_class) {
			return (_class != null && typeof(_class) == 'function' && _class.prototype instanceof this);
		},
		prototype: {
			varargs: function(args, offset) {
				return Array.prototype.slice.call(arguments, 2)
					.concat(Array.prototype.slice.call(args, offset));
			},
			/* Looks key up from the prototype above the one defining the caller. */
			super: function(key, callArgs) {
				if (this.__superDepth == null)
					Object.defineProperty(this, '__superDepth', { value: {}, writable: true });
				var depth = this.__superDepth[key] || 0, proto = Object.getPrototypeOf(this);
				while (proto && !proto.hasOwnProperty(key))
					proto = Object.getPrototypeOf(proto);
				for (var i = 0; i <= depth && proto; i++) {
					proto = Object.getPrototypeOf(proto);
					while (proto && !proto.hasOwnProperty(key))
						proto = Object.getPrototypeOf(proto);
				}
				if (!proto)
					return null;
				var res = proto[key];
				if (arguments.length > 1) {
					if (typeof(res) != 'function')
						throw new ReferenceError(key + ' is not a function in base class');
					if (typeof(callArgs) != 'object')
						callArgs = this.varargs(arguments, 1);
					this.__superDepth[key] = depth + 1;
					try { res = res.apply(this, callArgs); }
					finally { this.__superDepth[key] = depth; }
				}
				return res;
			}
		}
	});

	/* String.format: %s %d %f %x %h %q %% with width and precision. */
	var htmlEsc = function(s) {
		return String(s).replace(/&/g, '&#38;').replace(/"/g, '&#34;').replace(/'/g, '&#39;')
			.replace(/</g, '&#60;').replace(/>/g, '&#62;');
	};
	String.prototype.format = function() {
		var args = arguments, i = 0;
		return this.replace(/%(-)?(0)?(\d+)?(?:\.(\d+))?([sdfxhq%])/g, function(m, left, zero, width, prec, type) {
			if (type == '%')
				return '%';
			var v = args[i++], s;
			switch (type) {
			case 'd': s = Math.floor(+v || 0).toFixed(0); break;
			case 'f': s = (prec != null) ? (+v || 0).toFixed(+prec) : String(+v || 0); break;
			case 'x': s = Math.floor(+v || 0).toString(16); break;
			case 'h': s = (v == null) ? '' : htmlEsc(v); break;
			case 'q': s = (v == null) ? '' : htmlEsc(v); break;
			default: s = (v == null) ? '' : String(v);
			}
			while (width && s.length < +width)
				s = left ? s + ' ' : (zero ? '0' : ' ') + s;
			return s;
		});
	};

	/* dom: E() and helpers, with LuCI's rule that a lone string child is markup. */
	var dataRegistry = {};
	var DOM = Class.singleton({
		__name__: 'LuCI.dom',
		elem: function(e) { return (e != null && typeof(e) == 'object' && 'nodeType' in e); },
		parse: function(s) {
			var d = document.createElement('div');
			d.innerHTML = s;
			return d.firstChild;
		},
		matches: function(node, selector) { return this.elem(node) && node.matches ? node.matches(selector) : false; },
		parent: function(node, selector) { return this.elem(node) && node.closest ? node.closest(selector) : null; },
		append: function(node, children) {
			if (!this.elem(node))
				return null;
			if (Array.isArray(children)) {
				for (var i = 0; i < children.length; i++)
					if (this.elem(children[i]))
						node.appendChild(children[i]);
					else if (children[i] != null)
						node.appendChild(document.createTextNode('' + children[i]));
				return node.lastChild;
			}
			else if (typeof(children) === 'function') {
				return this.append(node, children(node));
			}
			else if (this.elem(children)) {
				return node.appendChild(children);
			}
			else if (children != null) {
				node.innerHTML = '' + children;
				return node.lastChild;
			}
			return null;
		},
		content: function(node, children) {
			if (!this.elem(node))
				return null;
			while (node.firstChild)
				node.removeChild(node.firstChild);
			return this.append(node, children);
		},
		attr: function(node, key, val) {
			if (!this.elem(node))
				return null;
			var attr = null;
			if (typeof(key) === 'object' && key !== null)
				attr = key;
			else if (typeof(key) === 'string')
				attr = {}, attr[key] = val;
			for (key in attr) {
				if (!attr.hasOwnProperty(key) || attr[key] == null)
					continue;
				switch (typeof(attr[key])) {
				case 'function': node.addEventListener(key, attr[key]); break;
				case 'object': node.setAttribute(key, JSON.stringify(attr[key])); break;
				default: node.setAttribute(key, attr[key]);
				}
			}
		},
		create: function() {
			var html = arguments[0],
			    attr = (arguments[1] instanceof Object && !Array.isArray(arguments[1])) ? arguments[1] : null,
			    data = attr ? arguments[2] : arguments[1],
			    elem;
			if (this.elem(attr))
				attr = null, data = arguments[1];
			if (Array.isArray(html)) {
				elem = document.createDocumentFragment();
				this.append(elem, html);
				return elem;
			}
			if (this.elem(html))
				elem = html;
			else if (html.charCodeAt(0) === 60)
				elem = this.parse(html);
			else if (html == 'svg' || (attr && attr.xmlns))
				elem = document.createElementNS('http://www.w3.org/2000/svg', html);
			else
				elem = document.createElement(html);
			if (!elem)
				return null;
			this.attr(elem, attr);
			this.append(elem, data);
			return elem;
		},
		data: function(node, key, val) {
			var id = node.getAttribute('data-idref');
			if (arguments.length > 2) {
				if (id == null) {
					id = Math.floor(Math.random() * 0xffffffff).toString(16);
					node.setAttribute('data-idref', id);
					dataRegistry[id] = {};
				}
				return (dataRegistry[id][key] = val);
			}
			return (id != null && dataRegistry[id]) ? dataRegistry[id][key] : null;
		},
		bindClassInstance: function(node, inst) { return this.data(node, '_class', inst); },
		findClassInstance: function(node) {
			var inst = null;
			do {
				inst = this.data(node, '_class');
				node = node.parentNode;
			}
			while (!(inst instanceof Class) && node != null && node.getAttribute);
			return inst;
		},
		callClassMethod: function(node, method) {
			var inst = this.findClassInstance(node);
			if (inst == null || typeof(inst[method]) != 'function')
				return null;
			return inst[method].apply(inst, inst.varargs(arguments, 2));
		},
		isEmpty: function(node) {
			for (var c = node.firstElementChild; c != null; c = c.nextElementSibling)
				if (!c.classList.contains('hidden'))
					return false;
			return true;
		}
	});

	/* request: fetch-based, resolving to a Response-like object. */
	var Request = Class.singleton({
		__name__: 'LuCI.request',
		request: function(url, options) {
			options = options || {};
			var init = { method: options.method || 'GET', credentials: 'same-origin', headers: {} };
			if (options.content != null) {
				init.body = (typeof(options.content) == 'object') ? JSON.stringify(options.content) : String(options.content);
				init.headers['Content-Type'] = (typeof(options.content) == 'object') ? 'application/json' : 'text/plain';
			}
			return window.fetch(url, init).then(function(res) {
				return res.text().then(function(text) {
					return {
						ok: res.ok, status: res.status, statusText: res.statusText, url: url,
						text: function() { return text; },
						json: function() { return JSON.parse(text); }
					};
				});
			});
		},
		get: function(url, options) { return this.request(url, Object.assign({ method: 'GET' }, options)); },
		post: function(url, data, options) { return this.request(url, Object.assign({ method: 'POST', content: data }, options)); }
	});

	/* poll: a one-second tick running each function every interval seconds. */
	var Poll = Class.singleton({
		__name__: 'LuCI.poll',
		queue: [],
		add: function(fn, interval) {
			if (interval == null || interval <= 0)
				interval = window.L ? window.L.env.pollinterval : null;
			if (isNaN(interval) || typeof(fn) != 'function')
				throw new TypeError('Invalid argument to LuCI.poll.add()');
			for (var i = 0; i < this.queue.length; i++)
				if (this.queue[i].fn === fn)
					return false;
			this.queue.push({ r: true, i: interval >>> 0, fn: fn });
			if (this.tick != null && !this.active())
				this.start();
			return true;
		},
		remove: function(fn) {
			var len = this.queue.length;
			this.queue = this.queue.filter(function(e) { return e.fn !== fn; });
			if (!this.queue.length)
				this.stop();
			return this.queue.length != len;
		},
		start: function() {
			if (this.active())
				return false;
			this.tick = 0;
			if (this.queue.length) {
				this.timer = window.setInterval(this.step, 1000);
				this.step();
			}
			return true;
		},
		stop: function() {
			if (!this.active())
				return false;
			window.clearInterval(this.timer);
			delete this.timer;
			delete this.tick;
			return true;
		},
		step: function() {
			for (var i = 0, e; (e = Poll.queue[i]) != null; i++) {
				if ((Poll.tick % e.i) != 0 || !e.r)
					continue;
				e.r = false;
				Promise.resolve(e.fn()).finally((function() { this.r = true; }).bind(e));
			}
			Poll.tick = (Poll.tick + 1) % Math.pow(2, 32);
		},
		active: function() { return (this.timer != null); }
	});

	/* view: load() → render() → into #view, then the page footer. */
	var View = Class.extend({
		__name__: 'LuCI.view',
		__init__: function() {
			var vp = document.getElementById('view');
			DOM.content(vp, E('div', { 'class': 'spinning' }, _('Loading view…')));
			return Promise.resolve(this.load())
				.then(L.bind(this.render, this))
				.then(L.bind(function(nodes) {
					var vp = document.getElementById('view');
					DOM.content(vp, nodes);
					DOM.append(vp, this.addFooter());
				}, this)).catch(L.error);
		},
		load: function() {},
		render: function() {},
		handleSave: function(ev) {
			var tasks = [];
			document.getElementById('maincontent').querySelectorAll('.cbi-map').forEach(function(map) {
				tasks.push(DOM.callClassMethod(map, 'save'));
			});
			return Promise.all(tasks);
		},
		handleSaveApply: function(ev, mode) {
			return this.handleSave(ev).then(function() {
				return L.ui.changes.apply(mode == '0');
			});
		},
		handleReset: function(ev) {
			var tasks = [];
			document.getElementById('maincontent').querySelectorAll('.cbi-map').forEach(function(map) {
				tasks.push(DOM.callClassMethod(map, 'reset'));
			});
			return Promise.all(tasks);
		},
		addFooter: function() {
			var footer = E([]);
			if (this.handleSaveApply || this.handleSave || this.handleReset) {
				footer.appendChild(E('div', { 'class': 'cbi-page-actions' }, [
					this.handleSaveApply ? E('button', {
						'class': 'cbi-button cbi-button-apply important',
						'click': L.ui.createHandlerFn(this, 'handleSaveApply', '0')
					}, [ _('Save & Apply') ]) : '', ' ',
					this.handleSave ? E('button', {
						'class': 'cbi-button cbi-button-save',
						'click': L.ui.createHandlerFn(this, 'handleSave')
					}, [ _('Save') ]) : '', ' ',
					this.handleReset ? E('button', {
						'class': 'cbi-button cbi-button-reset',
						'click': L.ui.createHandlerFn(this, 'handleReset')
					}, [ _('Reset') ]) : ''
				]));
			}
			return footer;
		}
	});

	var classes = { baseclass: Class, dom: DOM, poll: Poll, request: Request, view: View };

	var LuCI = Class.extend({
		__name__: 'LuCI',
		__init__: function(env) {
			this.env = Object.assign({}, env);
			Object.assign(this, { Class: Class, dom: DOM, Poll: Poll, Request: Request, view: View });
			var self = this;
			document.addEventListener('DOMContentLoaded', function() {
				Promise.all([ self.require('ui'), self.require('rpc'), self.require('form') ]).then(function(res) {
					res[1].setBaseURL(self.env.ubuspath || '/ubus/');
					Poll.start();
				}).catch(self.error);
			});
		},
		bind: function(fn, self) { return Function.prototype.bind.apply(fn, this.varargs(arguments, 2, self)); },
		isObject: function(v) { return (v != null && typeof(v) == 'object'); },
		toArray: function(val) {
			if (val == null) return [];
			if (Array.isArray(val)) return val;
			if (typeof(val) == 'object') return [ val ];
			var s = String(val).trim();
			return (s == '') ? [] : s.split(/\s+/);
		},
		resolveDefault: function(value, defvalue) {
			return Promise.resolve(value).catch(function() { return defvalue; });
		},
		path: function(prefix, parts) {
			var url = [ prefix || '' ];
			for (var i = 0; i < parts.length; i++)
				if (/^(?:[a-zA-Z0-9_.%,;-]+\/)*[a-zA-Z0-9_.%,;-]+$/.test(parts[i]))
					url.push('/', parts[i]);
			if (url.length === 1)
				url.push('/');
			return url.join('');
		},
		url: function() { return this.path(this.env.scriptname, arguments); },
		resource: function() { return this.path(this.env.resource, arguments); },
		media: function() { return this.path(this.env.media, arguments); },
		location: function() { return this.path(this.env.scriptname, this.env.requestpath); },
		naturalCompare: function(a, b) {
			return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: 'base' });
		},
		sortedKeys: function(obj, key) {
			if (!this.isObject(obj)) return [];
			return Object.keys(obj).sort(function(a, b) {
				return L.naturalCompare(key != null ? obj[a][key] : a, key != null ? obj[b][key] : b);
			});
		},
		raise: function(type, fmt) {
			var msg = fmt ? String.prototype.format.apply(fmt, this.varargs(arguments, 2)) : null;
			var e = (type instanceof Error) ? type : new Error(msg || 'Unspecified error');
			if (!(type instanceof Error))
				e.name = type || 'Error';
			else if (msg)
				e.message = msg + ': ' + e.message;
			throw e;
		},
		error: function(type, fmt) {
			try {
				L.raise.apply(L, Array.prototype.slice.call(arguments));
			}
			catch (e) {
				if (!e.reported) {
					e.reported = true;
					var vp = document.getElementById('view') || document.body;
					DOM.content(vp, E('div', { 'class': 'alert-message error', 'id': 'luci-error' }, [
						E('h4', {}, [ _('Runtime error') ]), E('pre', {}, [ e.name + ': ' + e.message ])
					]));
					if (window.console && console.error)
						console.error(e);
				}
				throw e;
			}
		},
		/* 'require x.y [as z]' header lines, then the factory returning a class. */
		require: function(name, from) {
			if (classes[name] != null)
				return Promise.resolve(classes[name]);
			from = (from || []).concat(name);
			var url = '%s/%s.js'.format(this.env.base_url, name.replace(/\./g, '/'));
			var self = this;
			classes[name] = Request.get(url).then(function(res) {
				if (!res.ok)
					L.raise('NetworkError', 'HTTP error %d while loading class file "%s"', res.status, url);
				var source = res.text(), depends = [], args = [],
				    re = /^\s*(?:'require[ \t]+(\S+)(?:[ \t]+as[ \t]+([a-zA-Z_]\S*))?'|"require[ \t]+(\S+)(?:[ \t]+as[ \t]+([a-zA-Z_]\S*))?")\s*;?/,
				    rest = source.replace(/^\s*(?:'use strict'|"use strict")\s*;?/, ''), m;
				while ((m = re.exec(rest)) != null) {
					var dep = m[1] || m[3], as = m[2] || m[4] || dep.replace(/[^a-zA-Z0-9_]/g, '_');
					if (from.indexOf(dep) != -1)
						L.raise('DependencyError', 'Circular dependency: %s', from.concat(dep).join(' → '));
					depends.push(self.require(dep, from));
					args.push(as);
					rest = rest.substr(m[0].length);
				}
				return Promise.all(depends).then(function(instances) {
					var factory = new Function([ 'window', 'document', 'L' ].concat(args).join(','),
						source + '\n//# sourceURL=' + url);
					var _class = factory.apply(factory, [ window, document, L ].concat(instances));
					if (!Class.isSubclass(_class))
						L.error('TypeError', '"%s" factory yields invalid constructor', name);
					var instance = new _class();
					classes[name] = instance;
					if (name.indexOf('.') == -1 && L[name] == null)
						L[name] = instance;
					return instance;
				});
			});
			return classes[name];
		}
	});

	window.LuCI = LuCI;
	window.E = function() { return DOM.create.apply(DOM, arguments); };
	/* No translations in the stand-in: _() returns the source string. */
	window._ = function(s) { return s; };
	window.N_ = function(n, s, p) { return (n == 1) ? s : p; };
})(window, document);
