// Opens the test page in headless Chromium (the Debian package, never a downloaded browser) and runs the
// call in it; prints one JSON line with the page's result on stdout. Used by ../browser_webrtc.rs.
//
// Usage: node drive.mjs <page url> <dtmf digit> [quiet ms] [flags: comma-separated restart, incoming]
// Environment: CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';

const [url, digit, quietArg, flagsArg] = process.argv.slice(2);
const quietMs = Number(quietArg || 0);
const flags = (flagsArg || '').split(',');
if (!url || !digit) {
  console.error('usage: node drive.mjs <page url> <dtmf digit> [quiet ms] [restart,incoming]');
  process.exit(64);
}

// Everything is bounded; the Rust test also kills this process group if it outlives its own bound.
const overall = setTimeout(() => {
  console.error('drive.mjs: overall timeout');
  process.exit(3);
}, 90_000 + quietMs);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  timeout: 30_000,
  args: [
    '--no-sandbox', // the tests run as root
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    // Host candidates as plain addresses (not mDNS names), loopback included: everything stays on 127.0.0.1.
    '--disable-features=WebRtcHideLocalIpsWithMdns',
    '--allow-loopback-in-peer-connection',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-background-networking',
    '--disable-component-update',
  ],
});
let code = 0;
try {
  const page = await browser.newPage();
  page.on('console', (m) => console.error(`page ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  page.setDefaultTimeout(80_000 + quietMs);
  await page.goto(url, { timeout: 15_000 });
  const result = await page.evaluate(([d, q, r, i]) => runCall(d, q, r, i),
    [digit, quietMs, flags.includes('restart'), flags.includes('incoming')]);
  result.browserVersion = browser.version();
  console.log(JSON.stringify(result));
} catch (e) {
  console.error(`drive.mjs: ${e && e.stack ? e.stack : e}`);
  code = 1;
} finally {
  await browser.close().catch(() => {});
  clearTimeout(overall);
}
process.exit(code);
