import assert from 'node:assert/strict';
import { temporal } from '@temporalio/proto';
import type { Client } from '@temporalio/client';
import { FailingTasksScan, pageEvents, receiveLimit } from '../../src/history';
import { WorkflowTaskFailingError } from '../../src/errors';

const { EventType } = temporal.api.enums.v1;
type Event = temporal.api.history.v1.IHistoryEvent;

const NDE =
  '[TMPRL1100] Nondeterminism error: Update machine does not handle this event: HistoryEvent(id: 28, UpsertWorkflowSearchAttributes)';

const event = (o: Record<string, unknown>): Event => temporal.api.history.v1.HistoryEvent.fromObject(o);
const completed = (id: number): Event =>
  event({ eventId: id, eventType: EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED });
const failed = (id: number, message: string): Event =>
  event({
    eventId: id,
    eventType: EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    workflowTaskFailedEventAttributes: { failure: { message } },
  });
const other = (id: number): Event =>
  event({ eventId: id, eventType: EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED });
/** Events `from` down to `to`, newest first, with workflow tasks completed at the ids in `completedAt`. */
const span = (from: number, to: number, completedAt: number[] = []): Event[] =>
  Array.from({ length: from - to + 1 }, (_, i) => from - i).map((id) =>
    completedAt.includes(id) ? completed(id) : other(id),
  );

/** Feeds pages until the scan says it is done; returns its result and how many pages it read. */
function scan(pages: Event[][], hint?: string) {
  const s = new FailingTasksScan(hint);
  let read = 0;
  for (const page of pages) {
    read++;
    if (s.feed(page)) break;
  }
  return { result: s.result(), read };
}

describe('why a run’s workflow tasks fail, read from its history newest first', () => {
  it('nothing, when the newest workflow task completed (and stops at it)', () => {
    assert.deepEqual(scan([span(40, 31, [38]), span(30, 1, [20])]), { result: undefined, read: 1 });
  });

  it('nothing, when a failure was followed by a completed workflow task', () => {
    assert.deepEqual(scan([[other(44), completed(43), failed(40, NDE), completed(27)]]).result, undefined);
  });

  it('a nondeterminism failure, the event it names and the last completed workflow task before it', () => {
    const { result, read } = scan([
      [other(33), failed(32, NDE), other(31), completed(30), other(29), completed(27)],
    ]);
    assert.deepEqual(result, { failure: NDE, eventId: 28, resetEventId: 27 });
    assert.equal(read, 1);
  });

  it('pages back until it finds the completed workflow task before the named event', () => {
    const pages = [
      [failed(600, NDE), ...span(599, 100, [500, 300])],
      span(99, 29, [60, 40]),
      span(28, 1, [27, 10]),
      span(0, 0),
    ];
    assert.deepEqual(scan(pages), { result: { failure: NDE, eventId: 28, resetEventId: 27 }, read: 3 });
  });

  it('another failure: its message, no event, and it stops at once', () => {
    const failure = 'broken build: the plan module is missing';
    assert.deepEqual(scan([[failed(9, failure)], span(8, 1, [4])]), { result: { failure }, read: 1 });
  });

  it('a query answered with the replay error (no event written): the hint, and the reset before its event', () => {
    assert.deepEqual(scan([span(31, 1, [30, 27, 10])], NDE).result, {
      failure: NDE,
      eventId: 28,
      resetEventId: 27,
    });
    // A hint that is not a nondeterminism error says nothing by itself.
    assert.equal(scan([span(31, 1, [30])], 'Query timed out').result, undefined);
  });

  it('the error it becomes names the reset command, or says why when there is no event', () => {
    const nde = new WorkflowTaskFailingError('order-42', NDE, true, 28, 27);
    assert.match(nde.message, /cannot be rebuilt by its workers/);
    assert.match(
      nde.message,
      /`temporal workflow reset --workflow-id order-42 --event-id 27 --reason "history does not replay"`/,
    );
    const unknownPoint = new WorkflowTaskFailingError('order-42', NDE, true, undefined, undefined);
    assert.match(
      unknownPoint.message,
      /reset the run to the last completed workflow task before the event the failure names/,
    );
    const other = new WorkflowTaskFailingError('order-42', 'x'.repeat(1000), false, undefined, undefined);
    assert.match(other.message, /workflow tasks are failing \(x{300}…\)/);
    assert.ok(other.message.length < 600, 'a long failure is cut in the message');
    assert.equal(other.failure.length, 1000, 'and kept whole in `failure`');
  });
});

describe('history pages sized from the run', () => {
  it('asks for fewer events per page as the average event grows, down to one, at most 256', () => {
    assert.equal(pageEvents(0, 0), 256, 'nothing known: the largest page');
    assert.equal(pageEvents(40, 40 * 500), 256, 'small events: the largest page');
    assert.equal(pageEvents(3000, 27_000_000), 116, '9 KB an event: about 1 MB a page');
    assert.equal(pageEvents(20, 20 * 1_300_000), 1, 'megabyte events: one a page');
    assert.equal(pageEvents(3000, 27_000_000, 50_000), 5, 'a smaller target (a client receiving 200 KB)');
  });

  it("reads the client's receive limit from its channel arguments: 4 MiB unless set, -1 for none", () => {
    const client = (channelArgs?: Record<string, unknown>) =>
      ({ connection: { options: { channelArgs } } }) as unknown as Client;
    assert.equal(receiveLimit(client()), 4 * 1024 * 1024);
    assert.equal(receiveLimit(client({ 'grpc.keepalive_time_ms': 30_000 })), 4 * 1024 * 1024);
    assert.equal(receiveLimit(client({ 'grpc.max_receive_message_length': 200_000 })), 200_000);
    assert.equal(receiveLimit(client({ 'grpc.max_receive_message_length': -1 })), Infinity);
    // The SDK's own default sets `max_receive_message_length`, a name gRPC does not read.
    assert.equal(receiveLimit(client({ max_receive_message_length: 128 * 1024 * 1024 })), 4 * 1024 * 1024);
  });
});
