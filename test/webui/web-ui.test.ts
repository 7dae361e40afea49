import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { defineWorkflow, task } from '../../src';
import { eventually, testServer, withWorker } from '../helpers';

// The Temporal Web UI, in a real headless Chromium: paused runs are found with the search attribute
// filter, and a run's page shows who paused it and why.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('Web UI (headless Chromium)', function () {
  this.timeout(120_000);
  let browser: Browser;

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `No Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`,
      );
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
      ],
    });
  });
  after(async () => browser?.close());

  it('finds paused runs by CloacinaPaused and shows the pause reason on the run page', async () => {
    const ui = testServer().uiUrl;
    assert.ok(ui, 'the test server runs with its Web UI');
    const wf = defineWorkflow({
      name: 'webui_etl',
      tasks: [
        task({ id: 'extract' }, (ctx) => ctx.pauseWorkflow('DB maintenance window (INC-4711)')),
        task({ id: 'load', dependencies: ['extract'] }, () => undefined),
      ],
    });
    await withWorker([wf], async ({ executor, client }) => {
      const h = await executor.executeAsync(wf, {}, { workflowId: `webui-etl-${Date.now()}` });
      await eventually(async () => (await h.status()).state === 'paused');
      const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
      try {
        const query = encodeURIComponent(`CloacinaPaused = true AND WorkflowId = "${h.workflowId}"`);
        await page.goto(`${ui}/namespaces/default/workflows?query=${query}`);
        await page.getByText(h.workflowId).first().waitFor({ timeout: 30_000 });
        const runId = (await client.workflow.getHandle(h.workflowId).describe()).runId;
        await page.goto(`${ui}/namespaces/default/workflows/${h.workflowId}/${runId}/metadata`);
        await page.getByText('DB maintenance window').first().waitFor({ timeout: 30_000 });
        const text = await page.locator('body').innerText();
        assert.match(text, /CloacinaPausedBy[^\n]*task:extract/);
        assert.match(text, /CloacinaState[^\n]*paused/);
      } finally {
        await page.close();
      }
      await h.resume();
      await h.result();
    });
  });
});
