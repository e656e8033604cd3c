// The mailing editor's live preview: on each edit, the form as it stands is rendered by the server's
// sandboxed renderer; the HTML goes into a frame with sandbox="" (no scripts), the text into a <pre>.
"use strict";
(function () {
  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }
  ready(function () {
    var panel = document.querySelector(".herald-preview");
    if (!panel) return;
    var form = panel.closest("form");
    var frame = panel.querySelector(".herald-preview-frame");
    var iframe = panel.querySelector(".herald-preview-html");
    var pre = panel.querySelector(".herald-preview-text");
    var localeSelect = panel.querySelector(".herald-preview-locale");
    var status = panel.querySelector(".herald-preview-status");
    var chosen = null;  // the part the person picked; until then HTML when there is some
    var timer = null, latest = 0;

    function showPart() {
      var hasHtml = Boolean(iframe.getAttribute("srcdoc"));
      var part = chosen || (hasHtml ? "html" : "text");
      var showHtml = part === "html" && hasHtml;
      iframe.hidden = !showHtml;
      pre.hidden = showHtml;
      panel.querySelectorAll("[data-part]").forEach(function (b) {
        b.classList.toggle("herald-active", b.dataset.part === (showHtml ? "html" : "text"));
      });
    }

    // What the channel has, and only that: an SMS is a message alone, with no sender, subject or HTML.
    function fitChannel(channel) {
      var sms = channel === "sms";
      panel.querySelector(".herald-preview-subject-line").hidden = sms;
      panel.querySelector(".herald-preview-message-line").hidden = !sms;
      panel.querySelector(".herald-preview-parts").hidden = sms;
      ["from_email", "reply_to", "subject", "html"].forEach(function (name) {
        form.querySelectorAll(".field-" + name).forEach(function (row) { row.hidden = sms; });
      });
    }

    function render(data) {
      fitChannel(data.channel);
      panel.querySelector(".herald-preview-subject").textContent = data.subject;
      // A new frame each time, its sandbox attribute set before its content: Chromium does not repaint a
      // frame that was hidden when its content changed.
      var fresh = iframe.cloneNode(false);
      fresh.setAttribute("srcdoc", data.html);
      fresh.hidden = false;
      iframe.replaceWith(fresh);
      iframe = fresh;
      pre.textContent = data.text;
      panel.querySelector(".herald-preview-sms").textContent = data.sms_summary;
      var problems = panel.querySelector(".herald-preview-problems");
      problems.replaceChildren();
      data.problems.forEach(function (p) {
        var li = document.createElement("li");
        li.textContent = "Template error" + (p.part ? " in " + p.part + (p.locale ? " (" + p.locale + ")" : "") : "") +
          (p.line ? ", line " + p.line : "") + ": " + p.message;
        problems.appendChild(li);
      });
      var current = localeSelect.value;
      localeSelect.replaceChildren();
      data.locales.forEach(function (locale) {
        var option = document.createElement("option");
        option.value = option.textContent = locale;
        option.selected = locale === (data.locales.indexOf(current) >= 0 ? current : data.locale);
        localeSelect.appendChild(option);
      });
      showFieldErrors(data.problems);
      showPart();
      status.textContent = data.problems.length ? "Not rendered" : "Up to date";
    }

    // Each problem also under the field it is in, as Django shows errors after a save.
    function showFieldErrors(problems) {
      form.querySelectorAll(".herald-live-error").forEach(function (node) { node.remove(); });
      var defaultLocale = (form.querySelector("[name=default_locale]") || {}).value;
      problems.forEach(function (p) {
        var name = p.locale && p.locale !== defaultLocale && p.part !== "translations" ? "translations" : p.part;
        var input = form.querySelector("[name=" + name + "]");
        if (!input || panel.contains(input)) return;
        var list = document.createElement("ul");
        list.className = "errorlist herald-live-error";
        var li = document.createElement("li");
        li.textContent = (name === "translations" && p.locale ? p.locale + "." + p.part + ", " : "") +
          (p.line ? "line " + p.line + ": " : "") + p.message;
        list.appendChild(li);
        input.insertAdjacentElement("afterend", list);
      });
    }

    function refresh() {
      var body = new FormData(form);
      body.append("_preview_locale", localeSelect.value);
      var request = ++latest;
      status.textContent = "Rendering…";
      fetch(panel.dataset.previewUrl, { method: "POST", body: body, credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) { if (request === latest) render(data); })
        .catch(function () { status.textContent = "Preview unavailable"; });
    }

    function later() { clearTimeout(timer); timer = setTimeout(refresh, 300); }

    form.addEventListener("input", function (event) {
      if (!panel.contains(event.target)) later();
    });
    localeSelect.addEventListener("change", refresh);
    panel.querySelectorAll("[data-width]").forEach(function (button) {
      button.addEventListener("click", function () {
        frame.classList.toggle("herald-desktop", button.dataset.width === "desktop");
        frame.classList.toggle("herald-mobile", button.dataset.width === "mobile");
        panel.querySelectorAll("[data-width]").forEach(function (b) { b.classList.toggle("herald-active", b === button); });
      });
    });
    panel.querySelectorAll("[data-part]").forEach(function (button) {
      button.addEventListener("click", function () {
        chosen = button.dataset.part;
        showPart();
      });
    });
    refresh();
  });
})();
