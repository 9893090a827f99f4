// Testigo dashboard: keeps the live part of the page (#live) current. The server sends an
// `update` event on /events each time its verified view changes; the page then fetches the
// server-rendered fragment again. No library, nothing fetched from elsewhere.
(function () {
  'use strict';
  var live = document.getElementById('live');
  if (!live || !window.EventSource) {
    return;
  }
  var lang = document.documentElement.lang || 'en';
  // When each entry first appeared on this page (ms since the epoch), for the latency figure.
  var seen = (window.testigoSeen = window.testigoSeen || {});
  function mark() {
    var now = Date.now();
    var rows = live.querySelectorAll('[data-index]');
    for (var i = 0; i < rows.length; i++) {
      var index = rows[i].getAttribute('data-index');
      if (!(index in seen)) {
        seen[index] = now;
      }
    }
  }
  mark();
  // Screen readers hear the newest request's result and the newest access, not the whole page.
  var announcer = document.getElementById('announce');
  function announce() {
    if (!announcer) {
      return;
    }
    var parts = [];
    var action = live.querySelector('.action .result');
    var access = live.querySelector('#feed tr.access');
    if (action) {
      parts.push(action.textContent);
    }
    if (access) {
      parts.push(access.textContent);
    }
    var text = parts.join('. ');
    if (announcer.textContent !== text) {
      announcer.textContent = text;
    }
  }
  var busy = false;
  var again = false;
  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch('/live?lang=' + encodeURIComponent(lang), { credentials: 'same-origin' })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null) {
          live.innerHTML = html;
          mark();
          announce();
          window.testigoVersion = (window.testigoVersion || 0) + 1;
        }
      }, function () {})
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }
  var events = new EventSource('/events');
  events.addEventListener('update', refresh);
})();
