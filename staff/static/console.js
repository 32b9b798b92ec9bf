// The counselling console updates itself: an EventSource on data-events (on the page's
// <h1>) says when the queue or one of this counsellor's conversations changed (ids only,
// never a text), and the page fetches the console again and puts in the new queue and
// conversations. A conversation already shown keeps its reply form as it is (what is
// being typed, the focus, a notice): only its heading and messages are replaced.
// The browser reconnects by itself after a lost connection, resuming after the last event
// it had (Last-Event-ID); the page is fetched again then too, so nothing is missed.
// When the stream is refused (the session ended) or EventSource is missing, the page
// reloads every data-refresh seconds instead, but never while a reply is being written
// or a choice made in a transfer or end form.
// The ready answers' buttons put their text in the reply box.
// Served from /static (the CSP allows scripts from this origin only).
"use strict";

(function () {
  var marked = document.querySelector("[data-refresh]");
  if (!marked) {
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

  var reloading = false;
  function reloadEvery() {
    var seconds = parseInt(marked.getAttribute("data-refresh"), 10);
    if (reloading || !(seconds > 0)) {
      return;
    }
    reloading = true;
    window.setInterval(function () {
      if (!writing()) {
        window.location.reload();
      }
    }, seconds * 1000);
  }

  function imported(node) {
    return document.importNode(node, true);
  }

  // Conversations gone are removed, new ones inserted in order, the others updated in
  // place (never moved: their order, by request time, does not change).
  function mergeHeld(current, fresh) {
    var ids = {};
    Array.prototype.forEach.call(fresh.children, function (node) {
      if (node.id) {
        ids[node.id] = true;
      }
    });
    Array.prototype.slice.call(current.children).forEach(function (node) {
      if (!node.id || !ids[node.id]) {
        node.remove();
      }
    });
    var previous = null;
    Array.prototype.forEach.call(fresh.children, function (node) {
      var shown = node.id ? document.getElementById(node.id) : null;
      if (shown) {
        ["h3", "ol.messages"].forEach(function (part) {
          shown.querySelector(part).replaceWith(imported(node.querySelector(part)));
        });
      } else {
        shown = imported(node);
        if (previous) {
          previous.after(shown);
        } else {
          current.prepend(shown);
        }
        shown.dispatchEvent(new Event("drafts:scan", { bubbles: true }));
      }
      previous = shown;
    });
  }

  function show(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var waiting = fresh.getElementById("waiting");
    var held = fresh.getElementById("held");
    if (!waiting || !held) {
      window.location.reload(); // not the console: the session ended, go to the login
      return;
    }
    document.getElementById("waiting").replaceWith(imported(waiting));
    document.getElementById("held-title").textContent =
      fresh.getElementById("held-title").textContent;
    mergeHeld(document.getElementById("held"), held);
  }

  // One fetch at a time; changes arriving meanwhile ask for one more after it.
  var fetching = false;
  var again = false;
  function refresh() {
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    fetch("/console", { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        return response.text();
      })
      .then(show)
      .catch(function () {
        again = true; // the next event or reconnection tries again
      })
      .finally(function () {
        fetching = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  // A ready answer goes into its conversation's reply box, to be sent as it is or edited.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.quick") : null;
    var box = button ? document.getElementById(button.getAttribute("data-for")) : null;
    if (!box) {
      return;
    }
    var text = button.getAttribute("data-quick");
    box.value = box.value.trim() ? box.value.trimEnd() + " " + text : text;
    box.dispatchEvent(new Event("input", { bubbles: true }));
    box.focus();
  });

  var url = marked.getAttribute("data-events");
  if (!window.EventSource || !url) {
    reloadEvery();
    return;
  }
  var source = new EventSource(url);
  var lost = false;
  source.addEventListener("change", refresh);
  source.addEventListener("open", function () {
    if (lost) {
      lost = false;
      refresh();
    }
  });
  source.addEventListener("error", function () {
    lost = true;
    if (source.readyState === EventSource.CLOSED) {
      reloadEvery(); // refused, not merely lost: reloading leads to the login if need be
    }
  });
})();
