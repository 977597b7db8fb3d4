'use strict';
'require baseclass';
'require pakon.format as fmt';

/*
 * A stacked bar chart of bytes over time drawn as SVG by hand (routers are
 * often offline, so nothing is loaded from elsewhere). One bar per
 * histogram bucket, one colour per series, a <title> per segment as the
 * tooltip, and a legend below.
 */

var NS = 'http://www.w3.org/2000/svg',
    colors = [ '#2f7ed8', '#e4572e', '#29a36a', '#f3a712', '#8e44ad', '#17becf', '#d35d90', '#7f8c8d', '#bcbd22', '#5d4037' ];

function svg(tag, attrs, children) {
	var el = document.createElementNS(NS, tag);
	for (var k in attrs)
		if (attrs[k] != null)
			el.setAttribute(k, attrs[k]);
	(children || []).forEach(function(c) {
		el.appendChild(typeof(c) == 'string' ? document.createTextNode(c) : c);
	});
	return el;
}

/* niceMax rounds a maximum up to 1, 2 or 5 times a power of 1024 or 10. */
function niceMax(v) {
	if (v <= 0)
		return 1;
	var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
	return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

return baseclass.extend({
	colors: colors,

	/* seriesLabel names a histogram series for the legend. */
	seriesLabel: function(s) {
		if (s.other)
			return _('Other');
		return s.device || s.hostname_unicode || s.key || _('All traffic');
	},

	/* totals sums sent and received per bucket of one series. */
	totals: function(s) {
		var out = [];
		for (var i = 0; i < Math.max((s.sent || []).length, (s.received || []).length); i++)
			out.push((+(s.sent || [])[i] || 0) + (+(s.received || [])[i] || 0));
		return out;
	},

	/* render draws histogram h into a new <div> holding the SVG and legend. */
	render: function(h, opts) {
		opts = opts || {};
		var W = 720, H = opts.height || 220, left = 64, bottom = 22, top = 8, right = 8,
		    series = (h.series || []).map(L.bind(function(s, i) {
			    return { label: this.seriesLabel(s), values: this.totals(s), color: colors[i % colors.length] };
		    }, this)),
		    n = series.reduce(function(m, s) { return Math.max(m, s.values.length); }, 0),
		    stackMax = 0;

		for (var b = 0; b < n; b++)
			stackMax = Math.max(stackMax, series.reduce(function(sum, s) { return sum + (s.values[b] || 0); }, 0));

		var ymax = niceMax(stackMax), plotW = W - left - right, plotH = H - top - bottom,
		    bw = n ? plotW / n : plotW, root = svg('svg', {
			    'viewBox': '0 0 %d %d'.format(W, H), 'class': 'pakon-chart', 'role': 'img',
			    'preserveAspectRatio': 'none', 'aria-label': opts.title || _('Traffic over time')
		    });

		for (var g = 0; g <= 4; g++) {
			var y = top + plotH - plotH * g / 4;
			root.appendChild(svg('line', { x1: left, x2: W - right, y1: y, y2: y, 'class': 'pakon-grid' }));
			root.appendChild(svg('text', { x: left - 4, y: y + 4, 'text-anchor': 'end', 'class': 'pakon-axis' },
				[ fmt.bytes(ymax * g / 4) ]));
		}

		var spansDays = (h.end - h.start) > 86400;
		for (var t = 0; t < 5 && n; t++) {
			var at = h.start + (h.end - h.start) * t / 4;
			root.appendChild(svg('text', { x: left + plotW * t / 4, y: H - 6, 'class': 'pakon-axis',
				'text-anchor': t == 0 ? 'start' : t == 4 ? 'end' : 'middle' }, [ fmt.shortTime(at, spansDays) ]));
		}

		for (var i = 0; i < n; i++) {
			var y0 = top + plotH, from = h.start + i * h.bucket;
			series.forEach(function(s) {
				var v = s.values[i] || 0;
				if (v <= 0)
					return;
				var bh = plotH * v / ymax;
				y0 -= bh;
				root.appendChild(svg('rect', {
					x: (left + i * bw + 0.5).toFixed(1), y: y0.toFixed(1), width: Math.max(bw - 1, 0.5).toFixed(1),
					height: bh.toFixed(1), fill: s.color, 'class': 'pakon-bar'
				}, [ svg('title', {}, [ '%s, %s: %s'.format(s.label, fmt.time(from), fmt.bytes(v)) ]) ]));
			});
		}

		if (!n || stackMax == 0)
			root.appendChild(svg('text', { x: left + plotW / 2, y: top + plotH / 2, 'text-anchor': 'middle', 'class': 'pakon-axis' },
				[ _('No traffic in this time range') ]));

		return E('div', { 'class': 'pakon-chart-box' }, [
			root,
			E('ul', { 'class': 'pakon-legend' }, series.map(function(s) {
				return E('li', {}, [ E('span', { 'class': 'pakon-swatch', 'style': 'background:' + s.color }), ' ', s.label ]);
			}))
		]);
	}
});
