// Which step a batch is at, and going back to the start.

import { batchPath, getJson } from './api.js';
import { showFinished } from './finished.js';
import { showPreview } from './preview.js';
import { stopWatching, watch } from './progress.js';
import { loadRecent } from './recent.js';
import { showUpload } from './upload.js';
import { FINISHED_STATES } from './ui.js';

/** Shows a batch at its step: held → the preview, finished → its result, else its progress. */
export async function openBatch(id) {
  const batch = await getJson(batchPath(id));
  if (batch.state === 'held') return showPreview(batch);
  if (FINISHED_STATES.includes(batch.state)) return showFinished(batch);
  return watch(batch);
}

export function startOver() {
  stopWatching();
  showUpload();
  loadRecent();
}
