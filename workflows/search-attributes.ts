import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Run state (`pending`, `running`, `pausing`, `paused`, `resuming`, `completed`, `failed`, `cancelled`). */
export const CloacinaState = defineSearchAttributeKey('CloacinaState', SearchAttributeType.KEYWORD);
/** The workflow definition's name. */
export const CloacinaWorkflow = defineSearchAttributeKey('CloacinaWorkflow', SearchAttributeType.KEYWORD);
/** True while any pause (manual, gate, task, failure, bulk) holds the run. */
export const CloacinaPaused = defineSearchAttributeKey('CloacinaPaused', SearchAttributeType.BOOL);
/** Who paused the run (the newest open pause). */
export const CloacinaPausedBy = defineSearchAttributeKey('CloacinaPausedBy', SearchAttributeType.KEYWORD);
/** When the newest open pause began. */
export const CloacinaPausedAt = defineSearchAttributeKey('CloacinaPausedAt', SearchAttributeType.DATETIME);
/** Why the run is paused (free text, searchable). */
export const CloacinaPauseReason = defineSearchAttributeKey('CloacinaPauseReason', SearchAttributeType.TEXT);
/** Kind of the newest open pause: `manual`, `gate`, `task`, `failure`, `bulk`. */
export const CloacinaPauseKind = defineSearchAttributeKey('CloacinaPauseKind', SearchAttributeType.KEYWORD);
/** Task ids whose `pauseBefore` gate is waiting for approval. */
export const CloacinaGate = defineSearchAttributeKey('CloacinaGate', SearchAttributeType.KEYWORD_LIST);
/** When a scheduled resume (or pause expiry) will fire. */
export const CloacinaResumeAt = defineSearchAttributeKey('CloacinaResumeAt', SearchAttributeType.DATETIME);

/**
 * The newest refused fire-and-forget request (a signal with a bad payload, from a non-approver, or with an
 * unknown name): `<when> <signal> by <who>: <code>: <why>`, at most {@link MAX_LAST_REJECTION_LENGTH}
 * characters. Text, so single words (a code, a name) can be searched for. Set only by runs begun by this
 * release whose executor found it registered in the namespace (see docs/operations.md).
 */
export const CloacinaLastRejection = defineSearchAttributeKey(
  'CloacinaLastRejection',
  SearchAttributeType.TEXT,
);
/** Longest value of {@link CloacinaLastRejection}, in characters. */
export const MAX_LAST_REJECTION_LENGTH = 400;

/**
 * The audit lines of the run's newest change (a pause, a resume, an approval, a refused request), as a JSON
 * array. Each upsert of it is an event of the history, so the whole trail is read back from there with no
 * worker, at no event of its own beside the upsert of the other attributes. Set only by runs begun by this
 * release whose executor found it registered in the namespace; a batch over
 * {@link MAX_AUDIT_ATTRIBUTE_BYTES}, or a run without it, writes its lines as a memo upsert instead.
 */
export const CloacinaAudit = defineSearchAttributeKey('CloacinaAudit', SearchAttributeType.TEXT);
/**
 * Largest value of any of these attributes, as bytes of its JSON payload: the server refuses a larger one
 * (`limit.searchAttributesSizeOfValue`, 2 KiB by default) and fails the workflow task that upserts it, so
 * every value a run upserts is clipped to this (a list keeps the items that fit).
 */
export const MAX_ATTRIBUTE_VALUE_BYTES = 1536;

/** Largest value of {@link CloacinaAudit}: lines that do not fit go to a memo upsert instead. */
export const MAX_AUDIT_ATTRIBUTE_BYTES = MAX_ATTRIBUTE_VALUE_BYTES;

/** Every custom search attribute the product uses, as registered on the server. */
export const SEARCH_ATTRIBUTES = [
  CloacinaState,
  CloacinaWorkflow,
  CloacinaPaused,
  CloacinaPausedBy,
  CloacinaPausedAt,
  CloacinaPauseReason,
  CloacinaPauseKind,
  CloacinaGate,
  CloacinaResumeAt,
  CloacinaLastRejection,
  CloacinaAudit,
] as const;
