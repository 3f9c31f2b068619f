// Host filter for the cii-scan HTML report. Without JavaScript the box stays hidden
// and every host section is still listed; nothing else depends on this script.
// Printing opens every collapsed section (CSS cannot open <details>) and closes again
// the ones that were closed afterwards; the printed results of a small report come
// from print-only blocks that need no script.
(function () {
  "use strict";
  var opened = [];
  window.addEventListener("beforeprint", function () {
    var all = document.querySelectorAll("details");
    for (var i = 0; i < all.length; i++) {
      if (!all[i].open) { all[i].open = true; opened.push(all[i]); }
    }
  });
  window.addEventListener("afterprint", function () {
    for (var i = 0; i < opened.length; i++) { opened[i].open = false; }
    opened = [];
  });
  var box = document.getElementById("host-filter");
  if (!box) { return; }
  var input = box.querySelector("input");
  var none = document.getElementById("filter-none");
  var sections = document.querySelectorAll("details.host");
  box.hidden = false;
  input.addEventListener("input", function () {
    var query = input.value.trim().toLowerCase();
    var shown = 0;
    for (var i = 0; i < sections.length; i++) {
      var hit = sections[i].getAttribute("data-search").indexOf(query) !== -1;
      sections[i].hidden = !hit;
      if (hit) { shown++; }
    }
    none.hidden = shown !== 0;
  });
})();
