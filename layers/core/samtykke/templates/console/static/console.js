// Progressive enhancement only: every page works without it. Served as a file, so the CSP needs no inline script.
(function () {
  "use strict";
  // Live campaign progress: poll the progress fragment while a send runs, and update the bar and the counts.
  var section = document.querySelector("[data-progress-url]");
  if (!section) return;
  var running = ["dispatching", "sending"];
  function update() {
    fetch(section.getAttribute("data-progress-url"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        var percent = Math.round(data.progress * 100);
        document.getElementById("send-progress").value = percent;
        section.querySelectorAll("[data-field]").forEach(function (el) {
          var name = el.getAttribute("data-field");
          el.textContent = name === "progress" ? percent : data[name];
        });
        var status = document.getElementById("campaign-status");
        if (status) status.textContent = data.status_label;
        if (running.indexOf(data.status) >= 0) setTimeout(update, 2000);
      });
  }
  if (running.indexOf(section.getAttribute("data-status")) >= 0) setTimeout(update, 1000);
})();
