// A person opens /docs, authorizes through the Authorize dialog, and runs "Try it out".
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authorize, openBrowser, startExample, startServer, tryItOut } from './harness.mjs';

async function withDocs(example, env, run) {
  const server = example === 'warden' ? await startServer(env.WARDEN_ADMIN_PASSWORD) : await startExample(example, env);
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

test('oauth2_jwt: the password flow logs in, then /users/me/ answers 200', async () => {
  await withDocs('oauth2_jwt', { SECRET_KEY: 'browser-test-secret-of-at-least-32-bytes' }, async (page) => {
    assert.equal(await tryItOut(page, 'get', '/users/me/'), '401');
    await authorize(page, async (dialog) => {
      await dialog.locator('#oauth_username').fill('johndoe');
      await dialog.locator('#oauth_password').fill('secret');
    });
    assert.equal(await tryItOut(page, 'get', '/users/me/'), '200');
    assert.equal(await tryItOut(page, 'get', '/users/me/items/'), '200');
  });
});

test('oauth2_scopes: only the ticked scopes are granted', async () => {
  await withDocs('oauth2_scopes', { SECRET_KEY: 'browser-test-secret-of-at-least-32-bytes' }, async (page) => {
    await authorize(page, async (dialog) => {
      await dialog.locator('#oauth_username').fill('alice');
      await dialog.locator('#oauth_password').fill('secret');
      await dialog.locator('label[for="items:read-password-checkbox-OAuth2PasswordBearer"]').click();
    });
    assert.equal(await tryItOut(page, 'get', '/items/'), '200');
    assert.equal(await tryItOut(page, 'post', '/items/'), '403');
    assert.equal(await tryItOut(page, 'get', '/users/me/'), '403');
  });
});

test('the warden server: log in as admin in the Authorize dialog, then /users/me and /items answer 200', async () => {
  await withDocs('warden', { WARDEN_ADMIN_PASSWORD: 'browser-admin-password' }, async (page) => {
    assert.equal(await tryItOut(page, 'get', '/users/me'), '401');
    await authorize(page, async (dialog) => {
      await dialog.locator('#oauth_username').fill('admin');
      await dialog.locator('#oauth_password').fill('browser-admin-password');
    }, '#oauth_username');
    assert.equal(await tryItOut(page, 'get', '/users/me'), '200');
    assert.equal(await tryItOut(page, 'get', '/items'), '200');
  });
});
