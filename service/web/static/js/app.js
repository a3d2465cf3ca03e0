// Kohtaanto's pages work without JavaScript; this file only adds small conveniences.
// (The Content-Security-Policy allows no inline script: page scripts live in static files.)
(function () {
  "use strict";
  // Buttons marked data-print print the page (the employment plan).
  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target.closest("[data-print]") : null;
    if (target) {
      event.preventDefault();
      window.print();
    }
  });
})();
