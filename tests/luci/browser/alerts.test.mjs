// Browser tests of luci-app-pakon's Alerts view, in the harness of
// pakon.test.mjs (see there for the environment). luci_test.go runs
// Suricata with tests/netlab/testdata/lab.rules over demo.pcap and names
// that file as a local rule file, so the daemon holds real alerts and can
// explain them. This file runs before pakon.test.mjs, which clears the data.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.PAKON_URL;
const start = +process.env.PAKON_START, end = +process.env.PAKON_END;
const artifacts = process.env.PAKON_ARTIFACTS || path.join(os.tmpdir(), 'pakon-luci-artifacts');
const session = '0123456789abcdef0123456789abcdef';
const range = `start=${start}&end=${end}`;
const desktop = { width: 1280, height: 800 }, phone = { width: 390, height: 844 };

let context, page, profile;
const requests = [], problems = [];

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

async function shot(name, viewport = desktop) {
	await page.setViewportSize(viewport);
	await page.waitForTimeout(150);
	await page.screenshot({ path: path.join(artifacts, `${name}-${viewport.width}.png`), fullPage: true });
}

async function openAlerts(query = range) {
	await page.goto(`${base}/cgi-bin/luci/admin/status/pakon/alerts${query ? '?' + query : ''}`);
	await page.waitForSelector('#view .pakon');
	await settle();
}

async function settle() {
	await page.waitForSelector('#pakon-alerts:not(.pakon-loading)', { state: 'attached' });
	await page.waitForTimeout(50);
}

const rowsSel = '#pakon-alerts tr.pakon-row';

before(async () => {
	fs.mkdirSync(artifacts, { recursive: true });
	profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pakon-chromium-'));
	context = await chromium.launchPersistentContext(profile, {
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		headless: true,
		args: [ '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
			'--disable-component-update', '--disable-sync' ],
		viewport: desktop, timezoneId: 'UTC', locale: 'en-US'
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

test('alerts: list by severity and device, as the daemon has them', async () => {
	const all = await ubus('pakon', 'alerts', { start, end, sort: 'severity', limit: 1000 });
	assert.ok(all.total >= 5, `need the lab rules' alerts, have ${all.total}`);
	await openAlerts();
	assert.equal(await page.locator(rowsSel).count(), all.total);
	assert.match(await page.textContent('#pakon-alerts-summary'), new RegExp(`of ${all.total}$`));
	const ids = await page.locator(rowsSel).evaluateAll(trs => trs.map(tr => tr.dataset.id));
	assert.deepEqual(ids, all.rows.map(r => String(r.id)));
	const sev = await page.locator(`${rowsSel} .pakon-sev`).allTextContents();
	assert.ok(sev.every(s => s == 'Low'), sev.join(','));
	await shot('alerts');
	await shot('alerts', phone);
	await page.setViewportSize(desktop);

	// A device's alerts only, through the device link.
	const laptop = all.rows.filter(r => r.mac == '02:00:00:00:00:0a');
	await page.locator(`${rowsSel}[data-mac="02:00:00:00:00:0a"] a`).first().click();
	await page.waitForURL(/alerts\?.*device=02%3A00%3A00%3A00%3A00%3A0a/);
	await settle();
	const macs = await page.locator(rowsSel).evaluateAll(trs => trs.map(tr => tr.dataset.mac));
	assert.equal(macs.length, laptop.length);
	assert.ok(macs.every(m => m == '02:00:00:00:00:0a'), macs.join(','));

	// High severity only: none here, and the page says so.
	await openAlerts(range);
	await page.selectOption('#pakon-severity', '1');
	await settle();
	assert.match(await page.textContent('#pakon-alerts-empty'), /No alerts in this time range/);
	assert.match(page.url(), /severity=1/);

	// Engine events are apart, behind the checkbox.
	await openAlerts(range);
	await page.check('#pakon-engine');
	await settle();
	assert.match(await page.textContent('#pakon-alerts-empty'), /No engine events/);
});

test('alerts: the details panel explains a DNS alert and links to the traffic', async () => {
	await openAlerts();
	const row = page.locator(`${rowsSel}[data-sid="9000003"][data-mac="02:00:00:00:00:0a"]`);
	await row.locator('.pakon-explain').click();
	await page.waitForSelector('#pakon-alert-summary');
	assert.match(await page.textContent('#pakon-alert-summary'), /looked up api\.example\.test; rule 9000003/);
	const rule = await page.textContent('#pakon-rule-text');
	assert.match(rule, /dns\.query; content:"api\.example\.test"/);
	assert.match(rule, /sid:9000003/);
	assert.match(await page.textContent('#pakon-alert-details'), /lab\.rules, line 5/);
	assert.ok(await page.locator('#pakon-alert-flows tr.pakon-row').count() > 0, 'the DNS flows are listed');
	await shot('alerts-details');
	await shot('alerts-details', phone);
	await page.setViewportSize(desktop);

	await page.click('#pakon-alert-traffic');
	await page.waitForURL(/traffic\?.*device=02%3A00%3A00%3A00%3A00%3A0a.*hostname=api\.example\.test/);
	await page.waitForSelector('#pakon-flows:not(.pakon-loading)', { state: 'attached' });
	const hosts = await page.locator('#pakon-flows tr.pakon-row').evaluateAll(trs => trs.map(tr => tr.children[3].textContent));
	assert.ok(hosts.length > 0 && hosts.every(h => h == 'api.example.test'), hosts.join(','));
});

test('alerts: rule sources, and the count on the overview', async () => {
	await openAlerts();
	const rules = await ubus('pakon', 'alert_rules');
	assert.match(await page.textContent('#pakon-rules'), /pts/);
	const ran = Date.parse(rules.status.time) > 0;
	assert.equal(await page.textContent('#pakon-rules-state'), !ran ? 'never' : rules.status.ok ? 'OK' : 'failed');
	assert.match(await page.textContent('#pakon-rules'), /rule updates are off/);

	await page.goto(`${base}/cgi-bin/luci/admin/status/pakon/overview?${range}`);
	await page.waitForSelector('#pakon-alert-count');
	const st = await ubus('pakon', 'status');
	assert.equal(await page.textContent('#pakon-alert-count'), String(st.alerts.rows));
	await page.click('#pakon-alert-count');
	await page.waitForURL(/pakon\/alerts/);
});

test('alerts: no request leaves the machine, no page errors', () => {
	const host = new URL(base).host;
	const foreign = requests.filter(u => !u.startsWith('blob:') && !u.startsWith('data:') && new URL(u).host != host);
	assert.deepEqual(foreign, []);
	assert.deepEqual(problems, []);
});
