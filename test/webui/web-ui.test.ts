import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { defineWorkflow, task } from '../../src';
import { PROJECT_ROOT } from '../../temporal-dev';
import { eventually, testServer, withWorker } from '../helpers';

// The Temporal Web UI, in a real headless Chromium: paused runs are found with the search attribute
// filter (with Cloacina's attributes as columns), and a run's page says who paused it, why, and how to
// resume it; the update it names is sent from the Web UI itself. The two screenshots in docs/images come
// from this test.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const IMAGES = path.join(PROJECT_ROOT, 'docs', 'images');

/**
 * The page's text with that of its frames (the Web UI renders user metadata markdown in sandboxed iframes),
 * once `text` shows in it.
 */
async function textOnceShown(page: Page, text: string): Promise<string> {
  return eventually(
    async () => {
      const parts: string[] = [];
      for (const frame of page.frames()) {
        try {
          parts.push(await frame.locator('body').innerText({ timeout: 1000 }));
        } catch {
          // A frame being replaced: read it on the next round.
        }
      }
      const all = parts.join('\n');
      return all.includes(text) ? all : undefined;
    },
    30_000,
    `\`${text}\` on the page`,
  );
}

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
    mkdirSync(IMAGES, { recursive: true });
  });
  after(async () => browser?.close());

  it('lists paused runs by CloacinaPaused with CloacinaState as a column, and the run page says how to resume', async () => {
    const ui = testServer().uiUrl;
    assert.ok(ui, 'the test server runs with its Web UI');
    const etl = defineWorkflow({
      name: 'nightly_etl',
      description: 'Loads the warehouse',
      tasks: [
        task({ id: 'extract' }, async (ctx) => {
          ctx.set('rows', 1200);
          await ctx.pauseWorkflow('DB maintenance window (INC-4711)');
        }),
        task(
          { id: 'load', dependencies: ['extract'] },
          (ctx) => void ctx.set('loaded', ctx.get('rows') ?? 0),
        ),
      ],
    });
    const release = defineWorkflow({
      name: 'release',
      tasks: [
        task({ id: 'build' }, (ctx) => void ctx.set('artifact', 'app-7.tar.gz')),
        task(
          {
            id: 'deploy',
            dependencies: ['build'],
            pauseBefore: { reason: 'change review', approvers: ['alice'] },
          },
          (ctx) => void ctx.set('deployed', ctx.get('artifact') ?? null),
        ),
      ],
    });
    await withWorker([etl, release], async ({ executor, client }) => {
      const stamp = Date.now();
      const h = await executor.executeAsync(etl, {}, { workflowId: `nightly-etl-${stamp}` });
      const gated = await executor.executeAsync(release, {}, { workflowId: `release-${stamp}` });
      await eventually(async () => (await h.status()).state === 'paused', 20_000, 'the ETL run to pause');
      await eventually(async () => (await gated.status()).gates.length === 1, 20_000, 'the gate');
      const page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
      try {
        // The list, filtered by the search attribute, with Cloacina's attributes as columns.
        await page.goto(
          `${ui}/namespaces/default/workflows?query=${encodeURIComponent('CloacinaPaused = true')}`,
        );
        await page.getByText(h.workflowId).first().waitFor({ timeout: 30_000 });
        await page.getByText(gated.workflowId).first().waitFor({ timeout: 30_000 });
        await page.getByTestId('workflows-summary-table-configuration-button').click();
        await page.getByText('Configure Workflows Table').waitFor();
        for (const column of ['Run ID', 'End'])
          await page.getByTestId(`orderable-list-item-${column}-remove-button`).click();
        for (const column of [
          'CloacinaState',
          'CloacinaPauseKind',
          'CloacinaPausedBy',
          'CloacinaPauseReason',
        ])
          await page.getByTestId(`orderable-list-item-${column}-add-button`).click();
        await page.getByTestId('drawer-close-button').click();
        await page.getByText('Configure Workflows Table').waitFor({ state: 'hidden' });
        const headers = await page
          .locator('[data-testid^="workflows-summary-table-header-cell-"]')
          .allInnerTexts();
        assert.deepEqual(
          headers.map((t) => t.trim()),
          [
            'Status',
            'Workflow ID',
            'Type',
            'Start',
            'CloacinaState',
            'CloacinaPauseKind',
            'CloacinaPausedBy',
            'CloacinaPauseReason',
          ],
        );
        const rows = await page
          .locator('[data-testid="workflows-summary-configurable-table-row"]')
          .allInnerTexts();
        const row = (id: string) => (rows.find((r) => r.includes(id)) ?? '').replace(/\s+/g, ' ');
        assert.match(
          row(h.workflowId),
          /RUNNING .*cloacinaDag .*paused task task:extract DB maintenance window \(INC-4711\)/,
        );
        assert.match(row(gated.workflowId), /RUNNING .*cloacinaDag .*paused gate gate change review/);
        await page.screenshot({ path: path.join(IMAGES, 'webui-paused-filter.png') });

        // The paused run's page: the static summary, the current pause and how to resume it.
        const runId = (await client.workflow.getHandle(h.workflowId).describe()).runId;
        await page.goto(`${ui}/namespaces/default/workflows/${h.workflowId}/${runId}/user-metadata`);
        const text = await textOnceShown(page, 'To resume:');
        assert.match(text, /nightly_etl — DAG of 2 tasks: Loads the warehouse/);
        assert.match(text, /nightly_etl — paused/);
        assert.match(
          text,
          /Paused \(task, graceful\) by task:extract at \S+: DB maintenance window \(INC-4711\)/,
        );
        assert.match(
          text,
          /To resume: More Actions → Send an Update → cloacina\.resume with \{"by":"<you>","reason":"<why>"\}/,
        );
        assert.ok(
          text.includes(`npx cloacina-temporal resume ${h.workflowId} --by <you> --reason "<why>"`),
          `the CLI command is on the page: ${text}`,
        );
        await page.getByRole('button', { name: 'More Actions' }).click();
        await page.getByRole('menuitem', { name: 'Send an Update' }).waitFor();
        await page.screenshot({ path: path.join(IMAGES, 'webui-paused-run.png') });

        // The update the page names is offered by the Web UI's Send an Update dialog.
        await page.getByRole('menuitem', { name: 'Send an Update' }).click();
        // (The Web UI keeps two copies of the dialog; the visible one is the one in use.)
        const modal = page.getByTestId('update-confirmation-modal').filter({ visible: true });
        await modal.getByTestId('update-select-button').click();
        const offered = await modal.getByRole('listbox').innerText();
        for (const name of ['cloacina.resume', 'cloacina.approve'])
          assert.ok(
            offered
              .split('\n')
              .map((l) => l.trim())
              .includes(name),
            `${name} in ${offered}`,
          );
        await page.keyboard.press('Escape');

        await h.resume({ by: 'web-operator', reason: 'maintenance over' });
        assert.deepEqual(await h.result(), { rows: 1200, loaded: 1200 });
        const resumed = (await h.audit()).entries.find((a) => a.action === 'resume');
        assert.deepEqual([resumed?.by, resumed?.reason], ['web-operator', 'maintenance over']);

        // A gate-held run says how to approve.
        const gatedRunId = (await client.workflow.getHandle(gated.workflowId).describe()).runId;
        await page.goto(`${ui}/namespaces/default/workflows/${gated.workflowId}/${gatedRunId}/user-metadata`);
        const gateText = await textOnceShown(page, 'To approve:');
        assert.match(gateText, /Waiting for approval: deploy/);
        assert.match(
          gateText,
          /To approve: More Actions → Send an Update → cloacina\.approve with \{"taskId":"deploy","by":"<you>"\}/,
        );
        assert.ok(gateText.includes(`npx cloacina-temporal approve ${gated.workflowId} deploy --by <you>`));
        assert.ok(!gateText.includes('To resume:'), 'a gate is let go by approval');
      } finally {
        await page.close();
      }
      await gated.approve('deploy', { by: 'alice' });
      assert.deepEqual(await gated.result(), { artifact: 'app-7.tar.gz', deployed: 'app-7.tar.gz' });
    });
  });
});
