// medsettle pages: small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // Region picker: show only the cities of the chosen province.
  function filterCities() {
    var province = document.querySelector("select[data-region=province]");
    var city = document.querySelector("select[data-region=city]");
    if (!province || !city) return;
    Array.prototype.forEach.call(city.options, function (option) {
      var own = option.getAttribute("data-province");
      var show = !own || own === province.value;
      option.hidden = !show;
      option.disabled = !show;
      if (!show && option.selected) city.value = "";
    });
  }

  // E-certificate: fetch a fresh token before the current one expires.
  function refreshQr() {
    var card = document.querySelector(".ecert[data-url]");
    if (!card) return;
    fetch(card.getAttribute("data-url"), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        document.getElementById("qr").innerHTML = data.svg;
        document.getElementById("qr-expiry").textContent = data.expires_at;
        document.getElementById("qr-token").value = data.token;
        schedule(data.refresh_in);
      })
      .catch(function () { schedule(30); });
  }
  var timer = null;
  function schedule(seconds) {
    if (timer) clearTimeout(timer);
    timer = setTimeout(refreshQr, Math.max(5, seconds) * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var province = document.querySelector("select[data-region=province]");
    if (province) { province.addEventListener("change", filterCities); filterCities(); }
    var card = document.querySelector(".ecert[data-refresh]");
    if (card) schedule(parseInt(card.getAttribute("data-refresh"), 10) || 60);
    document.addEventListener("click", function (event) {
      if (event.target.matches("[data-action=refresh-qr]")) refreshQr();
    });
    document.addEventListener("submit", function (event) {
      var message = event.target.getAttribute("data-confirm");
      if (message && !window.confirm(message)) event.preventDefault();
    });
  });
})();
