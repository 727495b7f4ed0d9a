// The paylinks page: signs in with a token and uses the documented API only. Each step is a
// `<section class="view">` and a module (upload, read-as, preview, progress, finished); this one signs
// in and wires them.

import { api, clearToken, getJson, setToken, token, whenUnauthorized } from './api.js';
import { startOver } from './flow.js';
import { stopWatching } from './progress.js';
import { wireCollection } from './collection.js';
import { wireFinished } from './finished.js';
import { wireMail } from './mail.js';
import { wireSearch } from './invoice-search.js';
import { wirePreview } from './preview.js';
import { wireProgress } from './progress.js';
import { unfollow } from './payments-live.js';
import { wireReadAs } from './read-as.js';
import { wireRecent } from './recent.js';
import { wireUpload } from './upload.js';
import { $, alertError, clearAlert, note, show } from './ui.js';

function signOut(message) {
  clearToken();
  stopWatching();
  unfollow('collection');
  unfollow('invoice');
  show('sign-in');
  if (message) alertError({ message });
  $('token').value = '';
  $('token').focus();
}

async function signIn(value) {
  setToken(value);
  try {
    await api('/api/batches?limit=1');
  } catch (error) {
    if (error.status !== 401) alertError(error);
    return;
  }
  clearAlert();
  note('Signed in.');
  getJson('/api/server')
    .then((server) => {
      $('simulated-banner').hidden = !server.simulated;
    })
    .catch(() => undefined);
  startOver();
}

/** A sign-in link (`/#token=...`): takes its token, and takes it out of the address bar and history. */
function tokenFromAddress() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!match) return null;
  history.replaceState(null, '', location.pathname + location.search);
  return decodeURIComponent(match[1]);
}

document.addEventListener('DOMContentLoaded', () => {
  whenUnauthorized(signOut);
  for (const id of ['preview-title', 'progress-title', 'finished-title', 'read-as-title', 'mail-title']) $(id).tabIndex = -1;
  $('alert').tabIndex = -1;

  $('sign-in-form').addEventListener('submit', (event) => {
    event.preventDefault();
    clearAlert();
    signIn($('token').value.trim());
  });
  $('sign-out').addEventListener('click', () => {
    signOut();
    note('Signed out.');
  });
  // A sign-in link pasted into this tab, already open, changes only the fragment: no new page load.
  window.addEventListener('hashchange', () => {
    const value = tokenFromAddress();
    if (value) {
      clearAlert();
      signIn(value);
    }
  });
  wireUpload();
  wireReadAs();
  wirePreview();
  wireProgress();
  wireFinished();
  wireMail();
  wireRecent();
  wireCollection();
  wireSearch();

  const fromAddress = tokenFromAddress();
  if (fromAddress) setToken(fromAddress);
  if (token()) signIn(token());
  else show('sign-in');
});
