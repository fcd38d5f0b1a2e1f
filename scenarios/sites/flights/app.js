// SkyPilot Flights: shared state and helpers. State lives in sessionStorage ("sp_flights") and is exposed as
// window.appState for checks; confirmed bookings are also appended to localStorage ("sp_bookings").
(function () {
  "use strict";
  var KEY = "sp_flights";
  var CITIES = ["Amsterdam", "Berlin", "Lisbon", "London", "Madrid", "Paris", "Porto", "Rome"];
  var DAYS = ["2024-06-10", "2024-06-11", "2024-06-12", "2024-06-13", "2024-06-14", "2024-06-15", "2024-06-16"];
  var WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  function load() {
    try { return JSON.parse(sessionStorage.getItem(KEY)) || {}; } catch (e) { return {}; }
  }

  function save(state) {
    sessionStorage.setItem(KEY, JSON.stringify(state));
    window.appState = state;
  }

  function hash(text) {  // FNV-1a, 32 bit
    var h = 0x811c9dc5;
    for (var i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h >>> 0;
  }

  function dayLabel(iso) {
    var d = new Date(iso + "T12:00:00Z");
    return WEEKDAYS[d.getUTCDay()] + " " + d.getUTCDate() + " " + MONTHS[d.getUTCMonth()];
  }

  function canonicalCity(text) {
    var t = (text || "").trim().toLowerCase();
    for (var i = 0; i < CITIES.length; i++) { if (CITIES[i].toLowerCase() === t) return CITIES[i]; }
    return null;
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // Four flights per route and day, the same every time for the same search.
  function flightsFor(search) {
    var base = hash(search.from + ">" + search.to + "@" + search.date);
    var departures = [[6, 10], [9, 45], [13, 30], [18, 55]];
    return departures.map(function (dep, i) {
      var h = hash(base + ":" + i);
      var minutes = 95 + (h % 70) + (i === 2 ? 110 : 0);
      var arr = dep[0] * 60 + dep[1] + minutes;
      var basic = 59 + (h % 9) * 10;
      return {
        id: "SP " + (100 + (h % 800)),
        depart: pad(dep[0]) + ":" + pad(dep[1]),
        arrive: pad(Math.floor(arr / 60) % 24) + ":" + pad(arr % 60),
        duration: Math.floor(minutes / 60) + "h " + pad(minutes % 60) + "m",
        stops: i === 2 ? 1 : 0,
        fares: { basic: basic, flex: basic + 50 }
      };
    });
  }

  function takenSeats(flightId) {
    var taken = {};
    var letters = "ABCDEF";
    for (var row = 10; row <= 19; row++) {
      for (var s = 0; s < 6; s++) {
        var seat = row + letters[s];
        if (hash(flightId + seat) % 3 === 0) taken[seat] = true;
      }
    }
    return taken;
  }

  function reference(state) {
    var p = state.passenger || {};
    var text = [state.flight.id, state.search.date, state.fare, state.seat, p.first, p.last, p.email].join("|");
    return "SP-" + ("000000" + hash(text).toString(36).toUpperCase()).slice(-6);
  }

  function applyShift() {
    var params = new URLSearchParams(location.search);
    if (params.get("shift") === "1" || localStorage.getItem("sp_shift") === "1") sessionStorage.setItem("sp_shift", "1");
    if (params.get("shift") === "0") sessionStorage.removeItem("sp_shift");
    if (sessionStorage.getItem("sp_shift") === "1") document.documentElement.classList.add("shifted");
  }

  function go(page) { location.href = page; }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "html") node.innerHTML = attrs[k];
      else if (k === "onclick") node.addEventListener("click", attrs[k]);
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }

  applyShift();
  window.appState = load();
  window.SP = {
    CITIES: CITIES, DAYS: DAYS, load: load, save: save, dayLabel: dayLabel, canonicalCity: canonicalCity,
    flightsFor: flightsFor, takenSeats: takenSeats, reference: reference, go: go, el: el
  };
})();
