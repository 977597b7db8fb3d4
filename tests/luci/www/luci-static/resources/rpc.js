'use strict';
'require baseclass';
'require request';

/*
 * LuCI stand-in: rpc.declare and friends as LuCI.rpc documents them —
 * JSON-RPC "call" with [session, object, method, args] to the ubus
 * endpoint; a reply [status, data] resolves to data (or to the status code
 * without data), shaped by `expect`, then `filter`; `reject: true` turns a
 * non-zero status into a rejection. Calls made in the same tick are sent
 * as one batch, as LuCI does.
 */
var rpcRequestID = 1,
    rpcSessionID = L.env.sessionid || '00000000000000000000000000000000',
    rpcBaseURL = L.env.ubuspath || '/ubus/',
    rpcQueue = [];

function statusText(code) {
	switch (code) {
	case 0: return _('Command OK');
	case 1: return _('Invalid command');
	case 2: return _('Invalid argument');
	case 3: return _('Method not found');
	case 4: return _('Resource not found');
	case 5: return _('No data received');
	case 6: return _('Permission denied');
	case 7: return _('Request timeout');
	case 8: return _('Not supported');
	case 9: return _('Unspecified error');
	case 10: return _('Connection lost');
	default: return _('Unknown error code');
	}
}

function handleReply(req, msg) {
	var ret = null, type = Object.prototype.toString;

	try {
		if (!L.isObject(msg) || msg.jsonrpc != '2.0')
			L.raise('RPCError', 'RPC call to %s/%s returned invalid message frame', req.object, req.method);
		if (L.isObject(msg.error) && msg.error.code && msg.error.message)
			L.raise('RPCError', 'RPC call to %s/%s failed with error %d: %s',
				req.object, req.method, msg.error.code, msg.error.message || '?');
	}
	catch (e) {
		return req.reject(e);
	}

	if (Array.isArray(msg.result)) {
		if (req.raise && msg.result[0] !== 0)
			return req.reject(new Error('RPC call to %s/%s failed with ubus code %d: %s'.format(
				req.object, req.method, msg.result[0], statusText(msg.result[0]))));
		ret = (msg.result.length > 1) ? msg.result[1] : msg.result[0];
	}

	if (req.expect) {
		for (var key in req.expect) {
			if (ret != null && key != '')
				ret = ret[key];
			if (ret == null || type.call(ret) != type.call(req.expect[key]))
				ret = req.expect[key];
			break;
		}
	}

	if (typeof(req.filter) == 'function') {
		req.priv[0] = ret;
		req.priv[1] = req.params;
		ret = req.filter.apply(this, req.priv);
	}

	req.resolve(ret);
}

function flush() {
	var batch = rpcQueue.splice(0, rpcQueue.length);
	if (!batch.length)
		return;
	var body = batch.map(function(b) { return b.msg; }),
	    q = batch.map(function(b) { return '%s.%s'.format(b.msg.params[1], b.msg.params[2]); }).join(';');

	request.post(rpcBaseURL + q, body.length == 1 ? body[0] : body).then(function(res) {
		if (!res.ok)
			throw new Error('RPC call failed with HTTP error %d: %s'.format(res.status, res.statusText || '?'));
		var json = res.json();
		if (!Array.isArray(json))
			json = [ json ];
		batch.forEach(function(b, i) {
			if (json[i] != null)
				handleReply(b.req, json[i]);
			else
				b.req.reject(new Error('No related RPC reply'));
		});
	}).catch(function(err) {
		batch.forEach(function(b) { b.req.reject(err); });
	});
}

return baseclass.extend({
	declare: function(options) {
		return function() {
			var args = Array.prototype.slice.call(arguments);
			return new Promise(function(resolveFn, rejectFn) {
				var params = {}, p_off = 0;
				if (Array.isArray(options.params))
					for (p_off = 0; p_off < options.params.length; p_off++)
						params[options.params[p_off]] = args[p_off];

				var priv = [ undefined, undefined ];
				for (; p_off < args.length; p_off++)
					priv.push(args[p_off]);

				var req = {
					expect: options.expect, filter: options.filter, resolve: resolveFn, reject: rejectFn,
					params: params, priv: priv, object: options.object, method: options.method, raise: options.reject
				};
				var msg = {
					jsonrpc: '2.0', id: rpcRequestID++, method: 'call',
					params: [ rpcSessionID, options.object, options.method, JSON.parse(JSON.stringify(params)) ]
				};

				rpcQueue.push({ req: req, msg: msg });
				if (rpcQueue.length == 1)
					window.setTimeout(flush, 0);
			});
		};
	},
	getSessionID: function() { return rpcSessionID; },
	setSessionID: function(sid) { rpcSessionID = sid; },
	getBaseURL: function() { return rpcBaseURL; },
	setBaseURL: function(url) { rpcBaseURL = url; },
	getStatusText: statusText
});
