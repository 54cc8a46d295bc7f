// Starts an example binary on 127.0.0.1 (PORT=0) and a headless Debian Chromium, and records
// every request the page makes, so a test can prove that nothing leaves 127.0.0.1.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const root = resolve(import.meta.dirname, '..', '..');
const examplesDir = process.env.WARDEN_EXAMPLES_DIR
  ?? join(process.env.CARGO_TARGET_DIR ?? join(root, 'target'), 'debug', 'examples');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

export async function startExample(name, env = {}) {
  const bin = join(examplesDir, name);
  if (!existsSync(bin)) throw new Error(`${bin} is not built: run cargo build --examples`);
  return start(name, bin, [], { PORT: '0', ...env });
}

// The auth server (`warden serve`) on a fresh embedded database.
export async function startServer(adminPassword) {
  const bin = join(examplesDir, '..', 'warden');
  if (!existsSync(bin)) throw new Error(`${bin} is not built: run cargo build`);
  const dataDir = mkdtempSync(join(tmpdir(), 'warden-browser-'));
  const server = await start('warden', bin, ['--data-dir', dataDir, 'serve', '--listen', '127.0.0.1:0'], {
    WARDEN_ADMIN_PASSWORD: adminPassword,
  });
  return { ...server, stop: () => { server.stop(); rmSync(dataDir, { recursive: true, force: true }); } };
}

async function start(name, bin, args, env) {
  const child = spawn(bin, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const lines = createInterface({ input: child.stdout });
  const base = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${name} did not start`)), 30_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      const url = line.split(/\s+/).find((w) => w.startsWith('http://'));
      url ? ok(url) : fail(new Error(`${name} printed no address: ${line}`));
    });
    child.once('exit', (code) => fail(new Error(`${name} exited with ${code}`)));
  });
  lines.on('line', () => {});
  return { base, stop: () => child.kill() };
}

export async function openBrowser() {
  if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath}: apt-get install chromium`);
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const page = await browser.newPage();
  const offHost = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (!['data:', 'blob:'].includes(url.protocol) && url.hostname !== '127.0.0.1') offHost.push(request.url());
  });
  return { browser, page, offHost };
}

// Opens the Authorize dialog, lets `fill` fill it in, authorizes and closes it.
export async function authorize(page, fill, within = null) {
  await page.locator('.auth-wrapper button.authorize').click();
  const dialog = page.locator('.modal-ux');
  await dialog.waitFor();
  await fill(dialog);
  // With several schemes the dialog has a form and an Authorize button each: press the one of
  // the form that holds `within` (by default the first form).
  const form = within ? dialog.locator('.auth-container', { has: page.locator(within) }) : dialog;
  await form.locator('button.authorize').first().click();
  // Authorized (for OAuth2: once the token request came back) when "Logout" shows.
  await dialog.locator('button', { hasText: 'Logout' }).first().waitFor();
  await dialog.locator('button.close-modal').click();
}

// Expands an operation, presses "Try it out" and "Execute", and returns the status shown.
export async function tryItOut(page, method, path) {
  const op = page.locator(`.opblock-${method}`, { has: page.locator(`[data-path="${path}"]`) }).first();
  if (!(await op.locator('button.try-out__btn').isVisible())) await op.locator('.opblock-summary').first().click();
  const tryOut = op.locator('button.try-out__btn');
  if ((await tryOut.textContent()).includes('Try it out')) await tryOut.click();
  await op.locator('button.execute').click();
  const status = op.locator('.live-responses-table .response .response-col_status').first();
  await status.waitFor();
  return (await status.textContent()).trim();
}
