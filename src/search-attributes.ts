// `cloacina-temporal/search-attributes`: the custom search attribute keys a run upserts (name and type
// of each), for visibility queries and typed reads with your own Temporal client.
export {
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
  MAX_LAST_REJECTION_LENGTH,
  CloacinaAudit,
  MAX_AUDIT_ATTRIBUTE_BYTES,
  SEARCH_ATTRIBUTES,
} from '../workflows/search-attributes';
