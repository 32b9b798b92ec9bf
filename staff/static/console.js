// The counselling console reloads itself every data-refresh seconds (on the page's <h1>),
// so new messages and new people waiting show without a click — but never while the
// counsellor is writing: a reply being typed (focused, or not empty), or a choice being
// made in a transfer or end form, holds the reload until it is sent. What is typed is also kept by drafts.js. Served from /static (the CSP
// allows scripts from this origin only).
"use strict";

(function () {
  var marked = document.querySelector("[data-refresh]");
  if (!marked) {
    return;
  }
  var seconds = parseInt(marked.getAttribute("data-refresh"), 10);
  if (!(seconds > 0)) {
    return;
  }

  function writing() {
    var active = document.activeElement;
    if (active && (active.tagName === "TEXTAREA" || active.tagName === "SELECT")) {
      return true;
    }
    var chosen = Array.prototype.some.call(document.querySelectorAll("option"), function (o) {
      return o.selected !== o.defaultSelected;
    });
    return chosen || Array.prototype.some.call(document.querySelectorAll("textarea"), function (area) {
      return area.value.trim() !== "";
    });
  }

  window.setInterval(function () {
    if (!writing()) {
      window.location.reload();
    }
  }, seconds * 1000);
})();
