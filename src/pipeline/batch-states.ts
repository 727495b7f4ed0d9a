/**
 * A batch's states, and the groups of them the code asks about, in one place.
 *
 * `submitting` (rows still being added) → `queued` → `running` →
 * `completed` | `completed_with_errors`; or `cancelled`, or `failed` (the
 * batch was stopped, e.g. Paywint refused the credentials). A batch submitted
 * to be held goes `submitting` → `held` and, once released, `submitting` →
 * `queued` like any other.
 */

export const BATCH_STATES = ['submitting', 'held', 'queued', 'running', 'completed', 'completed_with_errors', 'cancelled', 'failed'] as const;
export type BatchState = (typeof BATCH_STATES)[number];

/** States a batch stops in before its end: its rows without a result will not be sent. */
export const STOPPED_STATES = ['cancelled', 'failed'] as const satisfies readonly BatchState[];

/** States a batch ends in: it finished, or it stopped. */
export const FINISHED_STATES: readonly BatchState[] = ['completed', 'completed_with_errors', ...STOPPED_STATES];

/** States of a batch that may still send rows: what `cancel` and a refusal of the credentials stop. */
export const LIVE_STATES = ['submitting', 'queued', 'running'] as const satisfies readonly BatchState[];

export function isStoppedState(state: string | null | undefined): state is (typeof STOPPED_STATES)[number] {
  return (STOPPED_STATES as readonly string[]).includes(state ?? '');
}

/** Lua: `isStopped(state)`, from {@link STOPPED_STATES}. */
export const IS_STOPPED_LUA = `
local function isStopped(state)
  return ${STOPPED_STATES.map((s) => `state == '${s}'`).join(' or ')}
end
`;
