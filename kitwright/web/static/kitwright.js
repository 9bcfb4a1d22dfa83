// Small page helpers (no build step): the print button of the pick list, and the scan box,
// which keeps the focus after each scan so the next one can follow at once.
document.addEventListener("click", function (event) {
  var target = event.target;
  if (target instanceof HTMLElement && target.matches("[data-print]")) { window.print(); }
});
document.addEventListener("htmx:afterRequest", function (event) {
  var form = event.target;
  if (form instanceof HTMLFormElement && form.matches("[data-scan]")) {
    form.reset();
    var box = form.querySelector("input[name=code]");
    if (box) { box.focus(); }
  }
});
