// A person opens /docs, authorizes through the Authorize dialog, and runs "Try it out".
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authorize, openBrowser, startExample, tryItOut } from './harness.mjs';

async function withDocs(example, env, run) {
  const server = await startExample(example, env);
  const { browser, page, offHost } = await openBrowser();
  try {
    await page.goto(`${server.base}/docs`);
    await page.locator('.swagger-ui .opblock').first().waitFor();
    await run(page);
    assert.deepEqual(offHost, [], 'requests left 127.0.0.1');
  } finally {
    await browser.close();
    server.stop();
  }
}

test('api_key: authorize with the key, then the protected route answers 200', async () => {
  await withDocs('api_key', { API_KEY: 'browser-key' }, async (page) => {
    assert.equal(await tryItOut(page, 'get', '/protected-route/'), '401');
    await authorize(page, (dialog) => dialog.locator('input').first().fill('browser-key'));
    assert.equal(await tryItOut(page, 'get', '/protected-route/'), '200');
  });
});

test('http_basic: authorize with user and password, then the route answers 200', async () => {
  await withDocs('http_basic', { BASIC_USERNAME: 'ops', BASIC_PASSWORD: 'p4ss' }, async (page) => {
    await authorize(page, async (dialog) => {
      await dialog.locator('input[name="username"]').fill('ops');
      await dialog.locator('input[name="password"]').fill('p4ss');
    });
    assert.equal(await tryItOut(page, 'get', '/basic-auth/'), '200');
  });
});
