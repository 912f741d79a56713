// parcel-monitor dashboard: copy buttons, and live updates from the daemon's event stream.
// The page works without it; with it, new data is swapped in without a reload.
(function () {
  "use strict";

  function copy(button) {
    var source = document.getElementById(button.dataset.copy);
    if (!source) return;
    var text = source.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = button.dataset.done || label;
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
    } else {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button) copy(button);
  });

  var feed = document.body.dataset.live;
  var live = document.getElementById("live");
  if (!feed || !live || !window.EventSource) return;

  var pending = null;
  function refresh() {
    pending = null;
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("live");
        if (fresh) {
          live.innerHTML = fresh.innerHTML;
          document.body.dataset.updated = String(Date.now());
        }
        var sources = document.querySelector("aside.sources");
        var freshSources = doc.querySelector("aside.sources");
        if (sources && freshSources) sources.innerHTML = freshSources.innerHTML;
      })
      .catch(function () { /* the next event tries again */ });
  }

  var source = new EventSource(feed);
  source.addEventListener("changed", function () {
    if (!pending) pending = setTimeout(refresh, 300);
  });
})();
