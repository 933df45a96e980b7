// reelvault web view: small conveniences on top of plain HTML forms and links.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Filters that are picked rather than typed apply at once.
  var form = document.getElementById("filter");
  if (form) {
    form.querySelectorAll("select, input[type=date]").forEach(function (el) {
      el.addEventListener("change", function () { form.requestSubmit(); });
    });
  }
  // A click anywhere on a table row opens the task.
  document.querySelectorAll("table.tasks tbody tr").forEach(function (row) {
    row.addEventListener("click", function (ev) {
      if (ev.target.closest("a")) return;
      var link = row.querySelector("td.id a");
      if (link) window.location.assign(link.href);
    });
  });
});
