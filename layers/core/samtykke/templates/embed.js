/* samtykke embeddable consent form. No dependencies, no cookies, no inline script or eval (strict CSP).
   <div id="samtykke-form"></div>
   <script src="https://API/v1/public/TENANT/embed.js" data-target="samtykke-form" defer></script>
   Optional: data-locale, data-purposes="a,b", data-source. Style it through the samtykke-* classes. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch) { return; }
  var base = script.src.replace(/\/embed\.js(\?.*)?$/, "");
  var data = script.dataset;
  var locale = (data.locale || document.documentElement.lang || navigator.language || "en").slice(0, 2).toLowerCase();

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }

  function gpc() {
    var signal = navigator.globalPrivacyControl;
    return typeof signal === "boolean" ? signal : null;
  }

  function target() {
    var found = data.target && document.getElementById(data.target);
    if (found) { return found; }
    var made = el("div", "samtykke");
    script.parentNode.insertBefore(made, script.nextSibling);
    return made;
  }

  function render(root, form) {
    var m = form.messages;
    var node = el("form", "samtykke-form");
    node.noValidate = false;
    node.lang = form.locale;
    var emailLabel = el("label", "samtykke-email", m.email_label);
    var email = el("input");
    email.type = "email";
    email.name = "email";
    email.required = true;
    email.autocomplete = "email";
    emailLabel.appendChild(email);
    node.appendChild(emailLabel);
    form.purposes.forEach(function (purpose) {
      var row = el("label", "samtykke-purpose");
      var box = el("input");
      box.type = "checkbox";
      box.name = "purpose";
      box.value = purpose.purpose_id;
      row.appendChild(box);
      row.appendChild(el("strong", "samtykke-purpose-name", purpose.name));
      row.appendChild(el("span", "samtykke-purpose-text", purpose.text));
      node.appendChild(row);
    });
    if (form.privacy_policy_url) {
      var link = el("a", "samtykke-privacy", m.privacy_policy);
      link.href = form.privacy_policy_url;
      link.rel = "noopener";
      link.target = "_blank";
      node.appendChild(link);
    }
    var button = el("button", "samtykke-submit", m.submit);
    button.type = "submit";
    node.appendChild(button);
    var status = el("p", "samtykke-status");
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    node.appendChild(status);

    node.addEventListener("submit", function (event) {
      event.preventDefault();
      var chosen = Array.prototype.filter.call(node.querySelectorAll("input[name=purpose]"), function (box) {
        return box.checked;
      }).map(function (box) { return box.value; });
      if (!chosen.length) { status.textContent = m.choose; return; }
      var body = {
        email: email.value,
        purpose: chosen,
        locale: form.locale,
        source: data.source || "web-form",
        page_url: location.href
      };
      var signal = gpc();
      if (signal !== null) { body.global_privacy_control = signal; }
      button.disabled = true;
      fetch(base + "/consents", {
        method: "POST",
        credentials: "omit",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body)
      }).then(function (response) {
        return response.json().then(function (result) { return { ok: response.ok, result: result }; });
      }).then(function (answer) {
        if (!answer.ok) { throw new Error("refused"); }
        var pending = answer.result.purposes.some(function (p) { return p.status !== "granted"; });
        status.textContent = pending ? m.pending : m.granted;
        node.className = "samtykke-form samtykke-done";
      }).catch(function () {
        status.textContent = m.error;
      }).then(function () { button.disabled = false; });
    });
    root.appendChild(node);
  }

  var query = "?locale=" + encodeURIComponent(locale) + (data.purposes ? "&purposes=" + encodeURIComponent(data.purposes) : "");
  fetch(base + "/form" + query, { credentials: "omit" })
    .then(function (response) { if (!response.ok) { throw new Error("form"); } return response.json(); })
    .then(function (form) { render(target(), form); })
    .catch(function () { /* the tenant or this origin is not set up: render nothing */ });
})();
