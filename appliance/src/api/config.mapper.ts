// Domain records → API shapes (the spec's types).
import type { Schemas } from '@weft/api-spec';
import type { CommitOutcome } from '../desired-state/config.service.js';
import type {
  RevisionRecord,
  RevisionSummaryRecord,
  TokenRecord,
} from '../desired-state/desired-state.store.js';
import { redactDocument } from '../desired-state/document.js';

export function toRevisionSummary(r: RevisionSummaryRecord): Schemas['RevisionSummary'] {
  return {
    number: r.number,
    created_at: r.createdAt,
    author: r.author,
    message: r.message,
    state: r.state,
    confirm_deadline: r.confirmDeadline,
    error: r.error,
  };
}

export function toRevision(r: RevisionRecord): Schemas['Revision'] {
  return { ...toRevisionSummary(r), document: redactDocument(r.document), plan: r.plan };
}

export function toCommitResult(o: CommitOutcome): Schemas['CommitResult'] {
  return {
    dry_run: o.dryRun,
    plan: o.plan,
    ...(o.revision !== undefined ? { revision: o.revision } : {}),
    ...(o.state !== undefined ? { state: o.state } : {}),
    ...(o.confirmDeadline !== undefined ? { confirm_deadline: o.confirmDeadline } : {}),
  };
}

export function toTokenInfo(t: TokenRecord): Schemas['TokenInfo'] {
  return { name: t.name, role: t.role, created_at: t.createdAt, last_used_at: t.lastUsedAt };
}
