// Host filter for the cii-scan HTML report. Without JavaScript the box stays hidden
// and every host section is still listed; nothing else depends on this script.
(function () {
  "use strict";
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
