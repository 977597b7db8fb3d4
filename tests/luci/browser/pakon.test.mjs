// Browser tests of luci-app-pakon: Debian's chromium driven by
// playwright-core against the harness in tests/luci (uhttpd-shaped /ubus,
// the real pakon daemon behind it). luci_test.go starts everything and
// passes it in the environment:
//
//   PAKON_URL        base URL of the harness
//   PAKON_CONFIG     the UCI file pakon and the uci stand-in share
//   PAKON_START/END  epoch seconds around the imported capture
//   PAKON_ARTIFACTS  directory for screenshots and the exported CSV
//   CHROMIUM         the browser binary (default /usr/bin/chromium)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.PAKON_URL;
const configFile = process.env.PAKON_CONFIG;
const start = +process.env.PAKON_START, end = +process.env.PAKON_END;
const artifacts = process.env.PAKON_ARTIFACTS || path.join(os.tmpdir(), 'pakon-luci-artifacts');
const session = '0123456789abcdef0123456789abcdef';
const range = `start=${start}&end=${end}`;
const desktop = { width: 1280, height: 800 }, phone = { width: 390, height: 844 };

let context, page, profile;
const requests = [], problems = [];

// ubus calls pakon through the same /ubus endpoint the page uses.
async function ubus(object, method, args = {}) {
	const res = await fetch(base + '/ubus', {
		method: 'POST', headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'call', params: [ session, object, method, args ] })
	});
	const msg = await res.json();
	assert.ok(Array.isArray(msg.result), `${object}.${method}: ${JSON.stringify(msg)}`);
	assert.equal(msg.result[0], 0, `${object}.${method} status`);
	return msg.result[1];
}

async function queryAll(args) {
	let rows = [], total = 0;
	do {
		const r = await ubus('pakon', 'query', { ...args, limit: 1000, offset: rows.length });
		rows = rows.concat(r.rows);
		total = r.total;
		if (!r.rows.length)
			break;
	} while (rows.length < total);
	return { rows, total };
}

async function shot(name, viewport = desktop, fullPage = true) {
	await page.setViewportSize(viewport);
	await page.waitForTimeout(150);
	await page.screenshot({ path: path.join(artifacts, `${name}-${viewport.width}.png`), fullPage });
}

async function open(view, query = '') {
	await page.goto(`${base}/cgi-bin/luci/admin/status/pakon/${view}${query ? '?' + query : ''}`);
	await page.waitForSelector('#view .pakon');
}

// summary reads "Connections 1–10 of 19" into numbers.
async function summary() {
	const t = await page.textContent('#pakon-summary');
	const m = /(\d+)\D+(\d+)\D+of (\d+)/.exec(t);
	return m ? { first: +m[1], last: +m[2], total: +m[3] } : { first: 0, last: 0, total: 0 };
}

async function settle() {
	await page.waitForSelector('#pakon-flows:not(.pakon-loading)', { state: 'attached' });
	await page.waitForTimeout(50);
}

const rowsSel = '#pakon-flows tr.pakon-row:not(.pakon-member)';

before(async () => {
	fs.mkdirSync(artifacts, { recursive: true });
	profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pakon-chromium-'));
	context = await chromium.launchPersistentContext(profile, {
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		headless: true,
		args: [ '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
			'--disable-component-update', '--disable-sync' ],
		viewport: desktop, timezoneId: 'UTC', locale: 'en-US', acceptDownloads: true
	});
	context.on('request', r => requests.push(r.url()));
	page = context.pages()[0] || await context.newPage();
	page.setDefaultTimeout(10000);
	page.on('pageerror', e => problems.push('page error: ' + e.message));
	page.on('console', m => { if (m.type() == 'error' && !/^Failed to load resource/.test(m.text())) problems.push('console: ' + m.text()); });
	page.on('response', r => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`); });
});

after(async () => {
	await context?.close();
	if (profile)
		fs.rmSync(profile, { recursive: true, force: true });
});

test('traffic: paging, sorting, device and host filters', async () => {
	const all = await ubus('pakon', 'query', { start, end, limit: 1 });
	assert.ok(all.total > 10, `need more than one page of flows, have ${all.total}`);

	await open('traffic', range);
	await settle();
	assert.deepEqual(await summary(), { first: 1, last: Math.min(50, all.total), total: all.total });
	await shot('traffic');

	await page.selectOption('#pakon-pagesize', '10');
	await settle();
	assert.deepEqual(await summary(), { first: 1, last: 10, total: all.total });
	assert.equal(await page.locator(rowsSel).count(), 10);
	await page.click('#pakon-next');
	await settle();
	assert.deepEqual(await summary(), { first: 11, last: Math.min(20, all.total), total: all.total });
	assert.match(page.url(), /page=2/);

	// Sort by bytes sent, largest first: the first page matches the daemon's.
	await page.click('th[data-sort="sent"]');
	await settle();
	assert.equal((await summary()).first, 1);
	const bySent = await ubus('pakon', 'query', { start, end, sort: 'sent', desc: true, limit: 10 });
	const shown = await page.locator(rowsSel).evaluateAll(trs => trs.map(tr => tr.children[3].textContent));
	assert.deepEqual(shown, bySent.rows.map(r => r.hostname_unicode || r.hostname));
	await page.click('th[data-sort="sent"]');
	await settle();
	assert.equal(await page.getAttribute('th[data-sort="sent"]', 'aria-sort'), 'ascending');

	// Device picker by name.
	const laptop = await page.locator('#pakon-device option', { hasText: 'laptop' }).getAttribute('value');
	await page.selectOption('#pakon-device', laptop);
	await settle();
	const byDevice = await ubus('pakon', 'query', { start, end, devices: [ laptop ], limit: 1 });
	assert.equal((await summary()).total, byDevice.total);
	const devs = await page.locator(rowsSel).evaluateAll(trs => trs.map(tr => tr.children[2].textContent));
	assert.ok(devs.length > 0 && devs.every(d => d == 'laptop'), devs.join(','));

	// Host search: a domain and its subdomains.
	await page.fill('#pakon-host', 'example.test');
	await page.press('#pakon-host', 'Enter');
	await settle();
	const byHost = await ubus('pakon', 'query', { start, end, devices: [ laptop ], hostnames: [ 'example.test' ], limit: 1 });
	assert.ok(byHost.total > 0);
	assert.equal((await summary()).total, byHost.total);
	const hosts = await page.locator(rowsSel).evaluateAll(trs => trs.map(tr => tr.children[3].textContent));
	assert.ok(hosts.every(h => h.endsWith('example.test')), hosts.join(','));
	// http and https hosts link to the site.
	const link = await page.locator('#pakon-flows a[href^="https://"]').first().getAttribute('href');
	assert.match(link, /^https:\/\/[a-z.]+example\.test\/$/);
	assert.match(page.url(), /device=.*hostname=example\.test/);
});

test('traffic: aggregation with expandable rows', async () => {
	await open('traffic', range + '&limit=10');
	await page.check('#pakon-aggregate');
	await settle();
	const agg = await ubus('pakon', 'query', { start, end, aggregate: true, limit: 1 });
	assert.equal((await summary()).total, agg.total);
	// The group with the most flows, expanded, shows exactly its flows.
	await page.click('th[data-sort="flows"]');
	await settle();
	const first = page.locator(rowsSel).first();
	const flows = +(await first.locator('td').nth(7).textContent());
	assert.ok(flows >= 2, `largest group has ${flows} flows`);
	await first.locator('.pakon-expand').click();
	await page.waitForSelector('#pakon-flows tr.pakon-member');
	assert.equal(await page.locator('#pakon-flows tr.pakon-member').count(), flows);
	await shot('traffic-aggregate');
	await shot('traffic-aggregate', phone);
	await first.locator('.pakon-expand').click();
	assert.equal(await page.locator('#pakon-flows tr.pakon-member').count(), 0);
	await page.setViewportSize(desktop);
});

test('traffic: CSV export holds every page of the query', async () => {
	await open('traffic', range + '&limit=10');
	await settle();
	const [ download ] = await Promise.all([ page.waitForEvent('download'), page.click('#pakon-export') ]);
	const file = path.join(artifacts, 'export.csv');
	await download.saveAs(file);
	const lines = fs.readFileSync(file, 'utf8').trim().split(/\r\n/);
	const head = lines.shift().split(',');
	const rows = lines.map(l => Object.fromEntries(l.split(',').map((v, i) => [ head[i], v ])));
	const want = await queryAll({ start, end, sort: 'start', desc: true });
	assert.ok(want.total > 10, 'the export spans more than the visible page');
	assert.equal(rows.length, want.total);
	rows.forEach((r, i) => {
		const w = want.rows[i];
		assert.equal(r.hostname, w.hostname);
		assert.equal(r.mac, w.mac);
		assert.equal(+r.bytes_sent, w.bytes_sent);
		assert.equal(+r.bytes_received, w.bytes_received);
		assert.equal(+r.dest_port, w.dest_port);
		assert.ok(Math.abs(Date.parse(r.start) / 1000 - w.start) < 0.001, `start ${r.start} vs ${w.start}`);
	});
});

test('traffic: custom range and empty states that say why', async () => {
	const input = t => new Date(t * 1000).toISOString().slice(0, 16); // the browser runs in UTC
	await open('traffic', 'preset=1h');
	await settle();
	await page.selectOption('#pakon-range', 'custom');
	await settle();
	await page.fill('#pakon-from', input(start));
	await page.fill('#pakon-to', input(end));
	await page.click('#pakon-apply-range');
	await settle();
	const all = await ubus('pakon', 'query', { start: Math.floor(start / 60) * 60, end: Math.floor(end / 60) * 60, limit: 1 });
	assert.equal((await summary()).total, all.total);
	assert.match(page.url(), new RegExp(`start=${Math.floor(start / 60) * 60}&end=${Math.floor(end / 60) * 60}`));

	await page.fill('#pakon-host', 'nothing.invalid');
	await page.press('#pakon-host', 'Enter');
	await settle();
	const text = await page.textContent('#pakon-empty');
	assert.match(text, /No connections match/);
	assert.match(text, /Suricata is not connected/);
	assert.equal(await page.locator('#pakon-flows tr').count(), 0);
});

test('overview: devices, chart, top hosts, click-through and rename', async () => {
	await open('overview', range);
	const devices = await ubus('pakon', 'devices', { start, end });
	assert.equal(await page.locator('#pakon-devices tr.pakon-row').count(), devices.rows.length);
	assert.ok(await page.locator('svg.pakon-chart rect.pakon-bar').count() > 0, 'chart has bars');
	const top = await ubus('pakon', 'top', { start, end, by: 'hostname', limit: 10 });
	assert.equal(await page.locator('#pakon-top tr.pakon-row').count(), top.rows.length);
	await shot('overview');
	await shot('overview', phone);
	await page.setViewportSize(desktop);

	// Rename the phone, which has no DHCP name.
	const row = page.locator('#pakon-devices tr[data-mac="02:00:00:00:00:0b"]');
	await row.locator('.pakon-rename').click();
	await page.fill('#pakon-rename-input', 'phone');
	await page.click('#pakon-rename-save');
	await page.waitForSelector('#pakon-devices tr[data-mac="02:00:00:00:00:0b"] a:text-is("phone")');
	const conf = fs.readFileSync(configFile, 'utf8');
	assert.match(conf, /config device[^]*option mac '02:00:00:00:00:0b'[^]*option name 'phone'/);

	// Click through to the traffic of that device.
	await page.click('#pakon-devices a:text-is("phone")');
	await page.waitForURL(/traffic\?.*device=02%3A00%3A00%3A00%3A00%3A0b/);
	await settle();
	const devs = await page.locator(rowsSel).evaluateAll(trs => trs.map(tr => tr.children[2].textContent));
	assert.ok(devs.length > 0 && devs.every(d => d == 'phone'), devs.join(','));
	assert.match(await page.locator('#pakon-device option:checked').textContent(), /^phone/);

	// And through a top host.
	await open('overview', range);
	await page.locator('#pakon-top a.pakon-host-link').first().click();
	await page.waitForURL(/traffic\?.*hostname=/);
	await settle();
	assert.ok((await summary()).total > 0, `${page.url()}: ${await page.textContent('#view')}`);
});

test('settings: save a setting, status panel, clear with confirmation', async () => {
	await open('config');
	await page.waitForSelector('#cbi-pakon');
	assert.match(await page.textContent('#pakon-status'), /not connected/);
	await shot('config');
	await shot('config', phone);
	await page.setViewportSize(desktop);

	// An invalid duration is refused.
	await page.click('.cbi-tabmenu li[data-tab="storage"] a');
	const interval = page.locator('[id="widget.cbid.pakon.monitor.commit_interval"]');
	await interval.fill('soon');
	await interval.dispatchEvent('input');
	assert.match(await interval.getAttribute('class'), /cbi-input-invalid/);

	// A valid one is saved to /etc/config/pakon by Save & Apply.
	await interval.fill('30m');
	await page.click('.cbi-tabmenu li[data-tab="capture"] a');
	await page.fill('[id="widget.cbid.pakon.monitor.interface"]', 'br-guest');
	await page.press('[id="widget.cbid.pakon.monitor.interface"]', 'Enter');

	// The IDS alerts and their rules have sections of their own.
	await page.click('.cbi-tabmenu li[data-tab="alerts"] a');
	const keep = page.locator('[id="widget.cbid.pakon.alerts.keep"]');
	assert.equal(await keep.inputValue(), '90d', 'the shipped alert retention');
	await keep.fill('a while');
	await keep.dispatchEvent('input');
	assert.match(await keep.getAttribute('class'), /cbi-input-invalid/);
	await keep.fill('30d');
	await keep.dispatchEvent('input');
	await page.selectOption('[id="widget.cbid.pakon.alerts.notify_severity"]', '2');
	const hook = page.locator('[id="widget.cbid.pakon.alerts.notify_url"]');
	await hook.fill('ftp://example.test/');
	await hook.dispatchEvent('input');
	assert.match(await hook.getAttribute('class'), /cbi-input-invalid/);
	await hook.fill('');
	await hook.dispatchEvent('input');
	await page.click('.cbi-tabmenu li[data-tab="rules"] a');
	await page.check('[id="widget.cbid.pakon.rules.update"]');
	await page.fill('[id="widget.cbid.pakon.rules.url"]', 'mine https://rules.example.test/mine.rules');
	await page.press('[id="widget.cbid.pakon.rules.url"]', 'Enter');

	await Promise.all([ page.waitForEvent('load'), page.click('.cbi-page-actions .cbi-button-apply') ]);
	const conf = fs.readFileSync(configFile, 'utf8');
	assert.match(conf, /option commit_interval '30m'/);
	assert.match(conf, /list interface 'br-lan'\s+list interface 'br-guest'/);
	assert.match(conf, /config alerts 'alerts'[^]*?option keep '30d'/);
	assert.match(conf, /config alerts 'alerts'[^]*?option notify_severity '2'/);
	assert.doesNotMatch(conf, /^\s*option notify_url/m, 'an emptied field leaves no option');
	assert.match(conf, /config rules 'rules'[^]*?option update '1'/);
	assert.match(conf, /list url 'pts https:\/\/[^']+'\s+list url 'mine https:\/\/rules\.example\.test\/mine\.rules'/);
	assert.match(conf, /option name 'phone'/, 'the rename survives the form save');
	await page.waitForSelector('#cbi-pakon');
	await page.click('.cbi-tabmenu li[data-tab="storage"] a');
	assert.equal(await page.inputValue('[id="widget.cbid.pakon.monitor.commit_interval"]'), '30m');

	// Clear: cancel keeps the data, confirm deletes it.
	const before = await ubus('pakon', 'query', { start, end, limit: 1 });
	assert.ok(before.total > 0);
	await page.click('#pakon-clear');
	await page.waitForSelector('#pakon-clear-cancel');
	await shot('config-clear-modal', desktop, false);
	await page.click('#pakon-clear-cancel');
	assert.equal((await ubus('pakon', 'query', { start, end, limit: 1 })).total, before.total);
	await page.click('#pakon-clear');
	await page.click('#pakon-clear-confirm');
	await page.waitForSelector('#pakon-cleared');
	assert.match(await page.textContent('#pakon-cleared'), /Deleted [1-9]\d* rows/);
	assert.equal((await ubus('pakon', 'query', { start, end, limit: 1 })).total, 0);

	await open('traffic', range);
	await settle();
	assert.match(await page.textContent('#pakon-empty'), /No data yet/);
	await shot('traffic-empty');
	await shot('traffic-empty', phone);
});

test('no request leaves the machine, no page errors', () => {
	const host = new URL(base).host;
	const foreign = requests.filter(u => !u.startsWith('blob:') && !u.startsWith('data:') && new URL(u).host != host);
	assert.deepEqual(foreign, []);
	assert.ok(requests.length > 20, `recorded ${requests.length} requests`);
	assert.deepEqual(problems, []);
});
