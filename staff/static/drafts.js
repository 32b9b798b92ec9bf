// Drafts: what a reviewer types in a form marked data-draft="<tip>:<form>" is kept in this
// tab's sessionStorage, field by field, and put back when the page loads again: after a
// refused submission, or after a session expiry and a new login. The page a successful
// submission returns to marks the form data-draft-sent, and its draft is forgotten then.
// Logging out forgets every draft. sessionStorage never leaves the browser and ends with
// the tab. Served from /static (the CSP allows scripts from this origin only).
"use strict";

(function () {
  var PREFIX = "sini-draft:";

  function storage() {
    try {
      return window.sessionStorage;
    } catch (error) {
      return null; // storage disabled: the forms work as before, without drafts
    }
  }

  function fieldsOf(form) {
    return Array.prototype.filter.call(form.elements, function (field) {
      var type = (field.type || "").toLowerCase();
      return field.name && field.name !== "csrf" && type !== "hidden" && type !== "submit";
    });
  }

  function restore(field, value) {
    if (field.tagName === "SELECT") {
      var known = Array.prototype.some.call(field.options, function (option) {
        return option.value === value;
      });
      if (!known) return; // an option the page no longer offers (the status moved on)
    }
    field.value = value;
  }

  function keep(store, form) {
    var prefix = PREFIX + form.getAttribute("data-draft") + ":";
    var sent = form.hasAttribute("data-draft-sent");
    fieldsOf(form).forEach(function (field) {
      var key = prefix + field.name;
      if (sent) {
        store.removeItem(key);
      } else if (store.getItem(key) !== null) {
        restore(field, store.getItem(key));
      }
      var save = function () {
        store.setItem(key, field.value);
      };
      field.addEventListener("input", save);
      field.addEventListener("change", save);
    });
  }

  function forgetAll(store) {
    for (var i = store.length - 1; i >= 0; i--) {
      var key = store.key(i);
      if (key && key.indexOf(PREFIX) === 0) store.removeItem(key);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var store = storage();
    if (!store) return;
    document.querySelectorAll("form[data-draft]").forEach(function (form) {
      keep(store, form);
    });
    // A part of the page put in later (the console's new conversations) announces itself.
    document.addEventListener("drafts:scan", function (event) {
      event.target.querySelectorAll("form[data-draft]").forEach(function (form) {
        keep(store, form);
      });
    });
    document.querySelectorAll('form[action="/logout"]').forEach(function (form) {
      form.addEventListener("submit", function () {
        forgetAll(store);
      });
    });
  });
})();
