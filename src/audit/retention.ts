// Audit events are kept AUDIT_RETENTION_DAYS days, then deleted: they name accounts, addresses and browsers, which
// are kept no longer than incident response needs them, and a log kept for ever only grows. Every instance prunes
// about once an hour; two instances pruning at once delete the same range, which is harmless.
import type { Logger } from '../log.ts';
import { warnBackgroundFailure } from '../db/unavailable.ts';
import type { AuditLog } from './audit.ts';

const DAY_MS = 86_400_000;
/** The first prune waits a minute, so that a start is not slowed by it. */
const FIRST_PRUNE_MS = 60_000;
const PRUNE_INTERVAL_MS = 3_600_000;

export interface AuditRetention {
  /** Deletes the events older than the retention now; returns how many went (none when events are kept for ever). */
  prune(): Promise<number>;
  stop(): void;
}

/** `days`: 0 keeps every event for ever. */
export function keepAuditEvents(audit: AuditLog, { days, log, clock = Date.now }: { days: number; log: Logger; clock?: () => number }): AuditRetention {
  const prune = async () => (days === 0 ? 0 : audit.prune(new Date(clock() - days * DAY_MS)));
  let timer: NodeJS.Timeout | undefined;
  const pruneLater = (ms: number) => {
    timer = setTimeout(() => {
      prune()
        .then((removed) => {
          if (removed > 0) log.info({ removed, retentionDays: days }, 'audit events past their retention deleted');
        })
        .catch((error: unknown) => warnBackgroundFailure(log, error, 'audit retention'))
        .finally(() => {
          if (timer) pruneLater(PRUNE_INTERVAL_MS);
        });
    }, ms).unref();
  };
  if (days > 0) pruneLater(FIRST_PRUNE_MS);
  return {
    prune,
    stop() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
